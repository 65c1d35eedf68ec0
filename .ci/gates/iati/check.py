#!/usr/bin/env python3
"""Checks an IATI 2.03 activity file the way the IATI Validator judges a publisher's file,
with IATI's own reference data kept in the repository (iati/, see iati/SOURCES.md):

1. the XML schema (iati/schema/iati-activities-schema.xsd): every violation an error;
2. the codelists (iati/codelists/*.xml through iati/codelists/mapping.xml, conditions
   included): a code not on a complete codelist is an error, a withdrawn code or a code
   not on an incomplete codelist (OrganisationRegistrationAgency) a warning;
3. the standard ruleset (iati/rulesets/standard.json, IATI-Rulesets version-2.03), each
   case with the severity its ruleInfo gives. Every rule type the ruleset uses is
   implemented; a rule type (or a one_or_all "all" or an idCondition) this checker does
   not know is reported as an error of its own, never skipped.

`idCondition` (NOT_EXISTING_ORG_ID, NOT_EXISTING_ORG_ID_PREFIX) would exempt identifiers
of publishers already in the IATI Registry; the Registry's list is not part of the
reference data, so those rules always apply (stricter than the Validator).

    check.py FILE.xml [--max-listed N]    exit 0: no error and no warning; 1 otherwise

Needs lxml (.ci/gates/requirements.txt).
"""

import argparse
import datetime as dt
import json
import re
import sys
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[3]
REF = ROOT / "iati"

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class Finding:
    def __init__(self, severity, rule, message, where):
        self.severity = severity
        self.rule = rule
        self.message = message
        self.where = where

    def __str__(self):
        return f"{self.severity:7} {self.rule:16} {self.where}: {self.message}"


def where_of(el):
    """The activity an element belongs to (its iati-identifier) and its path."""
    if not isinstance(el, etree._Element):
        return "?"
    act = el if el.tag == "iati-activity" else next(
        (a for a in el.iterancestors("iati-activity")), None)
    ident = act.findtext("iati-identifier") if act is not None else None
    return f"{ident or '-'} {el.getroottree().getpath(el)}"


# ---------------------------------------------------------------------------------
# Schema


def check_schema(tree, schema_dir=REF / "schema"):
    schema = etree.XMLSchema(etree.parse(str(schema_dir / "iati-activities-schema.xsd")))
    out = []
    if not schema.validate(tree):
        for e in schema.error_log:
            out.append(Finding("error", "schema", e.message, f"line {e.line}"))
    return out


# ---------------------------------------------------------------------------------
# Codelists


def load_codelists(directory=REF / "codelists"):
    """name -> (complete, {code: status})"""
    lists = {}
    for path in directory.glob("*.xml"):
        if path.name == "mapping.xml":
            continue
        root = etree.parse(str(path)).getroot()
        codes = {}
        for item in root.iter("codelist-item"):
            code = (item.findtext("code") or "").strip()
            codes[code] = item.get("status", "active")
        lists[root.get("name")] = (root.get("complete", "1") == "1", codes)
    return lists


def check_codelists(tree, directory=REF / "codelists"):
    lists = load_codelists(directory)
    mapping = etree.parse(str(directory / "mapping.xml")).getroot()
    out = []
    for m in mapping.iter("mapping"):
        path = m.findtext("path").strip()
        condition = (m.findtext("condition") or "").strip()
        ref = m.find("codelist").get("ref")
        if ref not in lists:
            out.append(Finding("error", "codelist", f"mapping.xml names the codelist {ref}, which is not in the reference data", path))
            continue
        complete, codes = lists[ref]
        for value in tree.xpath(path):
            holder = value.getparent()
            if condition and not truthy(holder.xpath(condition)):
                continue
            code = str(value).strip()
            status = codes.get(code)
            if status is None:
                sev = "error" if complete else "warning"
                out.append(Finding(sev, f"codelist:{ref}", f"{code!r} is not on the {ref} codelist ({path})", where_of(holder)))
            elif status != "active":
                out.append(Finding("warning", f"codelist:{ref}", f"{code!r} is {status} on the {ref} codelist ({path})", where_of(holder)))
    return out


# ---------------------------------------------------------------------------------
# Ruleset


class UnknownRule(Exception):
    pass


def truthy(x):
    if isinstance(x, bool):
        return x
    if isinstance(x, (int, float)):
        return x != 0
    if isinstance(x, str):
        return x != ""
    return len(x) > 0


def text_of(x):
    if isinstance(x, etree._Element):
        return x.text or ""
    return str(x)


DATE = re.compile(r"(-?\d{4,})-(\d{2})-(\d{2})")
DATETIME = re.compile(r"(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


def dates(el, xpath, today):
    if xpath in ("NOW", "TODAY"):
        return [today]
    out = []
    for v in el.xpath(xpath):
        m = DATE.match(text_of(v))
        if m:
            out.append(dt.date(*map(int, m.groups())))
    return out


def decimals(values):
    out = []
    for v in values:
        try:
            out.append(Decimal(text_of(v).strip()))
        except InvalidOperation:
            return None
    return out


class Rules:
    """Each method: True (passes), False (fails) or None (does not apply)."""

    def __init__(self, el, case, ctx):
        self.el = el
        self.case = case
        self.ctx = ctx
        self.matches = []
        self.nested = []
        for p in case.get("paths", []):
            found = el.xpath(p)
            found = found if isinstance(found, list) else [found]
            self.nested.append(found)
            self.matches.extend(found)
        self.texts = [text_of(m) for m in self.matches]

    def atleast_one(self):
        return len(self.matches) >= 1

    def no_more_than_one(self):
        return len(self.matches) <= 1

    def only_one_of(self):
        for excluded in self.case["excluded"]:
            if self.el.xpath(excluded):
                return not self.matches
        return len(self.matches) == 1

    def dependent(self):
        return all(self.nested) or not any(self.nested)

    def one_or_all(self):
        if self.el.xpath(self.case["one"]):
            return True
        what = self.case["all"]
        if what == "lang":
            return all(n.get(XML_LANG) for n in self.el.iter("narrative"))
        if what == "sector":
            return all(t.find("sector") is not None for t in self.el.findall("transaction"))
        if what == "currency":
            return all(v.get("currency") for tag in ("value", "forecast", "loan-status") for v in self.el.iter(tag))
        raise UnknownRule(f"one_or_all with all={what!r}")

    def unique(self):
        return len(self.texts) == len(set(self.texts))

    def strict_sum(self):
        values = decimals(self.matches)
        return values is not None and sum(values, Decimal(0)) == Decimal(str(self.case["sum"]))

    def sum(self):
        if not self.matches:
            return True
        return self.strict_sum()

    def range(self):
        values = decimals(self.matches)
        if values is None:
            return False
        lo = Decimal(str(self.case["min"])) if "min" in self.case else None
        hi = Decimal(str(self.case["max"])) if "max" in self.case else None
        return all((lo is None or lo <= v) and (hi is None or v <= hi) for v in values)

    def date_order(self):
        less = dates(self.el, self.case["less"], self.ctx["today"])
        more = dates(self.el, self.case["more"], self.ctx["today"])
        if not less or not more:
            return None
        return all(a <= b for a in less for b in more)

    def date_now(self):
        values = self.el.xpath(self.case["date"])
        if not values:
            return None
        for v in values:
            m = DATETIME.match(text_of(v))
            if not m:
                return False
            if dt.datetime(*map(int, m.groups())) > self.ctx["now"]:
                return False
        return True

    def time_limit(self):
        starts = dates(self.el, self.case["start"], self.ctx["today"])
        ends = dates(self.el, self.case["end"], self.ctx["today"])
        if not starts or not ends:
            return None
        # At most a year: 365 days from start to end (IATI rule 7.5.3).
        return (ends[0] - starts[0]).days <= 365

    def between_dates(self):
        if not self.el.xpath(self.case["date"]):
            return None
        d = dates(self.el, self.case["date"], self.ctx["today"])
        s = dates(self.el, self.case["start"], self.ctx["today"])
        e = dates(self.el, self.case["end"], self.ctx["today"])
        if not d or not s or not e:
            return False
        return all(s[0] <= x <= e[0] for x in d)

    def regex_matches(self):
        rx = re.compile(self.case["regex"])
        return all(rx.search(t) for t in self.texts)

    def regex_no_matches(self):
        rx = re.compile(self.case["regex"])
        return not any(rx.search(t) for t in self.texts)

    def startswith(self):
        prefixes = []
        for p in self.case["prefix"]:
            if p == "ORG-ID-PREFIX":
                prefixes.extend(self.ctx["org_id_prefixes"])
            else:
                prefixes.extend(text_of(v) for v in self.el.xpath(p))
        sep = self.case.get("separator", "")
        if not self.texts:
            return None
        return all(any(t.startswith(pre + sep) for pre in prefixes if pre) for t in self.texts)

    def no_spaces(self):
        return all(t == t.strip() for t in self.texts)

    def if_then(self):
        if not truthy(self.el.xpath(self.case["if"])):
            return True
        return truthy(self.el.xpath(self.case["then"]))

    def loop(self):
        values = sorted(set(text_of(v) for v in self.el.xpath(self.case["foreach"])))
        subs = self.case.get("subs", [])
        results = []
        for rule, body in self.case["do"].items():
            for sub_case in body["cases"]:
                for val in values:
                    c = dict(sub_case)
                    for k in subs:
                        if k in c:
                            c[k] = [x.replace("$1", val) for x in c[k]] if isinstance(c[k], list) else c[k].replace("$1", val)
                    r = evaluate(rule, self.el, c, self.ctx)
                    if r is False:
                        return False
                    results.append(r)
        return True if results else None


KNOWN = {name for name in dir(Rules) if not name.startswith("_")}
ID_CONDITIONS = {"NOT_EXISTING_ORG_ID", "NOT_EXISTING_ORG_ID_PREFIX"}


def evaluate(rule, el, case, ctx):
    if rule not in KNOWN:
        raise UnknownRule(f"rule type {rule!r}")
    if "idCondition" in case and case["idCondition"] not in ID_CONDITIONS:
        raise UnknownRule(f"idCondition {case['idCondition']!r}")
    if "condition" in case and not truthy(el.xpath(case["condition"])):
        return None
    return getattr(Rules(el, case, ctx), rule)()


def check_rules(tree, ruleset, ctx):
    out = []
    for context, rules in ruleset.items():
        elements = tree.xpath(context)
        for rule, body in rules.items():
            for case in body["cases"]:
                info = case.get("ruleInfo", {})
                rid = info.get("id", rule)
                sev = info.get("severity", "error")
                if rule not in KNOWN:
                    out.append(Finding("error", rid, f"the checker cannot evaluate the rule type {rule!r}", context))
                    continue
                for el in elements:
                    try:
                        ok = evaluate(rule, el, case, ctx)
                    except UnknownRule as e:
                        out.append(Finding("error", rid, f"the checker cannot evaluate {e}", context))
                        break
                    if ok is False:
                        out.append(Finding(sev, rid, info.get("message", rule), where_of(el)))
    return out


def context(now=None):
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    _, agencies = load_codelists()["OrganisationRegistrationAgency"]
    return {
        "now": now,
        "today": now.date(),
        "org_id_prefixes": [c for c, s in agencies.items() if s == "active"],
    }


def check(path, ruleset_path=REF / "rulesets" / "standard.json", now=None):
    tree = etree.parse(str(path))
    ruleset = json.loads(Path(ruleset_path).read_text())
    findings = check_schema(tree) + check_codelists(tree) + check_rules(tree, ruleset, context(now))
    return tree, findings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--max-listed", type=int, default=40)
    args = ap.parse_args()
    tree, findings = check(args.file)
    activities = len(tree.xpath("/iati-activities/iati-activity"))
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    by_rule = Counter((f.severity, f.rule) for f in findings)
    for f in findings[: args.max_listed]:
        print(f)
    for (sev, rule), n in sorted(by_rule.items()):
        print(f"{n:6} {sev:7} {rule}")
    print(f"{activities} activities, {len(tree.xpath('//budget'))} budgets, "
          f"{len(tree.xpath('//transaction'))} transactions, {len(tree.xpath('//sector'))} sectors: "
          f"{len(errors)} errors, {len(warnings)} warnings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
