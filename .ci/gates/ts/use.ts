// Compiled with `tsc --strict` against the types openapi-typescript generates from
// openapi/openapi.json (.ci/gates/contract.sh): a consumer's code that reads a page of
// projects, a ledger balance and a problem must type-check.
import type { components, paths } from "./.work/ogsms";

type ProjectPage =
  paths["/v1/projects"]["get"]["responses"]["200"]["content"]["application/json"];
type Balance = components["schemas"]["Balance"];
type Problem = components["schemas"]["Problem"];
type TokenRequest = NonNullable<
  paths["/v1/auth/token"]["post"]["requestBody"]
>["content"]["application/x-www-form-urlencoded"];

export function titles(page: ProjectPage): string[] {
  return page.items.map((p) => `${p.code}: ${p.title.en ?? p.title.es ?? ""}`);
}

export function nextCursor(page: ProjectPage): string | null | undefined {
  return page.next_cursor;
}

export function describe(b: Balance): string {
  return `${b.available.amount} ${b.available.currency}`;
}

export function explain(p: Problem): string {
  return `${p.status} ${p.title}: ${p.detail ?? ""}`;
}

export const login: TokenRequest = {
  grant_type: "client_credentials",
  client_id: "powerbi-deco",
  client_secret: "secret",
};
