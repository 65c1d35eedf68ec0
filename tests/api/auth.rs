//! Authentication: every token attack gets a bare 401, good tokens work, service
//! accounts get short-lived tokens by client credentials, revocation is immediate.

use actix_web::http::Method;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ogsms::auth::AuthConfig;
use ogsms::auth::policy::Role;
use serde_json::{Value, json};

use crate::common::{Options, Resp, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, TestApp};

// Ed25519 test keys (made with `openssl genpkey -algorithm ed25519`); `x` is the public key.
const K1_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGcWog1E6CHdf/MKji0jZkpt/dH5S5a1xUuGRUcPgqpK\n-----END PRIVATE KEY-----\n";
const K1_X: &str = "9D4EJNVqAIV8JcHlDQCuQExrO-sHiG4_OTRv8rYucw4";
const K2_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJiJd1sakcBYCb6pzNw6D09aGcpNwHq1mDlUKtS630od\n-----END PRIVATE KEY-----\n";
const K2_X: &str = "LE6Sjrq0oBxGYjWj4s2ftJQsH06m-8eM4cSEmC_pCbw";
const EVIL_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO0SLDHnReiN+YG+a0dqHdZ7LVFUGgJGOUKd9M1G6Osf\n-----END PRIVATE KEY-----\n";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Valid claims of a coordinator token for the test service.
fn claims() -> Value {
    json!({
        "sub": "alice",
        "role": "coordinator",
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now(),
        "nbf": now(),
        "exp": now() + 600,
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
    })
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    ogsms::auth::install_crypto_provider();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn eddsa(claims: &Value, pem: &str, kid: Option<&str>) -> String {
    ogsms::auth::install_crypto_provider();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn jwks(keys: &[(&str, &str)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, x)| json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}))
        .collect();
    json!({ "keys": keys }).to_string()
}

async fn eddsa_app() -> TestApp {
    let auth = AuthConfig::asymmetric(
        Algorithm::EdDSA,
        &jwks(&[("k1", K1_X), ("k2", K2_X)]),
        Some(("k1", K1_PEM.as_bytes())),
        TEST_ISSUER,
        TEST_AUDIENCE,
    )
    .unwrap();
    TestApp::with(Options {
        auth: Some(auth),
        ..Options::default()
    })
    .await
}

async fn me(app: &TestApp, token: &str) -> Resp {
    app.get_with("/v1/me", &[("authorization", &format!("Bearer {token}"))])
        .await
}

/// A bare 401: the problem, `WWW-Authenticate`, and nothing that says why.
#[track_caller]
fn assert_refused(res: &Resp) {
    let p = res.problem(401, "unauthorized");
    assert_eq!(
        res.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"ogsms\", error=\"invalid_token\"")
    );
    assert_eq!(p["detail"], "A valid bearer token is required.");
}

#[actix_web::test]
async fn a_valid_token_is_accepted_and_me_tells_who_the_caller_is() {
    let app = TestApp::new().await;
    let res = me(&app, &hs256(&claims(), TEST_SECRET)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["role"], "coordinator");
    let perms = body["permissions"].as_array().unwrap();
    assert!(perms.contains(&json!({"resource": "offices", "action": "write", "scope": "all"})));
}

#[actix_web::test]
async fn a_missing_token_is_refused() {
    let app = TestApp::new().await;
    assert_refused(
        &app.get_with("/v1/offices", &[("authorization", "none")])
            .await,
    );
    assert_refused(&app.get_with("/v1/me", &[("authorization", "none")]).await);
}

#[actix_web::test]
async fn malformed_authorization_headers_are_refused() {
    let app = TestApp::new().await;
    for value in [
        "Bearer",
        "Bearer ",
        "Bearer abc",
        "Bearer a.b.c",
        "Token x",
        "Basic YWxpY2U6cHc=",
        "bearer ....",
    ] {
        assert_refused(
            &app.get_with("/v1/offices", &[("authorization", value)])
                .await,
        );
    }
}

#[actix_web::test]
async fn an_expired_token_is_refused_beyond_the_leeway() {
    let app = TestApp::new().await;
    let mut c = claims();
    c["exp"] = json!(now() - 31 - 5);
    c["iat"] = json!(now() - 700);
    c["nbf"] = json!(now() - 700);
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    // Within the 30 s leeway it still passes (clock skew between machines).
    c["exp"] = json!(now() - 10);
    assert_eq!(me(&app, &hs256(&c, TEST_SECRET)).await.status, 200);
}

#[actix_web::test]
async fn a_token_not_yet_valid_is_refused() {
    let app = TestApp::new().await;
    let mut c = claims();
    c["nbf"] = json!(now() + 300);
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
}

#[actix_web::test]
async fn a_token_signed_with_another_key_is_refused() {
    let app = TestApp::new().await;
    assert_refused(
        &me(
            &app,
            &hs256(&claims(), b"another-secret-another-secret-another-secret"),
        )
        .await,
    );
    // A good signature over other claims: the payload was swapped.
    let good = hs256(&claims(), TEST_SECRET);
    let mut evil = claims();
    evil["sub"] = json!("mallory");
    let evil = hs256(&evil, TEST_SECRET);
    let parts: Vec<&str> = good.split('.').collect();
    let evil_parts: Vec<&str> = evil.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], evil_parts[1], parts[2]);
    assert_refused(&me(&app, &spliced).await);
}

#[actix_web::test]
async fn alg_none_is_refused() {
    let app = TestApp::new().await;
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        assert_refused(&me(&app, &format!("{header}.{payload}.")).await);
        assert_refused(&me(&app, &format!("{header}.{payload}")).await);
    }
}

#[actix_web::test]
async fn hs_rs_confusion_is_refused() {
    // An EdDSA service given an HS256 token whose HMAC key is the public key.
    let app = eddsa_app().await;
    let public_key = URL_SAFE_NO_PAD.decode(K1_X).unwrap();
    assert_refused(&me(&app, &hs256(&claims(), &public_key)).await);
    assert_refused(&me(&app, &hs256(&claims(), K1_X.as_bytes())).await);
    // An HS256 service given an EdDSA token.
    let app = TestApp::new().await;
    assert_refused(&me(&app, &eddsa(&claims(), K1_PEM, Some("k1"))).await);
}

#[actix_web::test]
async fn wrong_issuer_or_audience_is_refused() {
    let app = TestApp::new().await;
    let mut c = claims();
    c["iss"] = json!("someone-else");
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    let mut c = claims();
    c["aud"] = json!("another-api");
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    let mut c = claims();
    c["aud"] = json!(["another-api"]);
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
}

#[actix_web::test]
async fn missing_required_claims_are_refused() {
    let app = TestApp::new().await;
    for claim in ["exp", "iss", "aud", "sub", "role", "jti", "iat"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    }
}

#[actix_web::test]
async fn exp_given_as_a_string_is_refused() {
    let app = TestApp::new().await;
    let mut c = claims();
    c["exp"] = json!((now() + 600).to_string());
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    // Even when it names an instant long past.
    c["exp"] = json!("1");
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
}

#[actix_web::test]
async fn a_role_without_its_office_or_department_is_refused() {
    let app = TestApp::new().await;
    for role in ["representative", "office_staff", "hq_department"] {
        let mut c = claims();
        c["role"] = json!(role);
        assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    }
    // And an unknown role.
    let mut c = claims();
    c["role"] = json!("superuser");
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
    // A viewer that claims an office is refused rather than trusted.
    let mut c = claims();
    c["role"] = json!("viewer");
    c["office_id"] = json!(uuid::Uuid::new_v4());
    assert_refused(&me(&app, &hs256(&c, TEST_SECRET)).await);
}

#[actix_web::test]
async fn keys_rotate_by_kid_and_unknown_kids_are_refused() {
    let app = eddsa_app().await;
    assert_eq!(
        me(&app, &eddsa(&claims(), K1_PEM, Some("k1"))).await.status,
        200
    );
    assert_eq!(
        me(&app, &eddsa(&claims(), K2_PEM, Some("k2"))).await.status,
        200
    );
    // The right key under the wrong kid, an unknown kid, no kid.
    assert_refused(&me(&app, &eddsa(&claims(), K2_PEM, Some("k1"))).await);
    assert_refused(&me(&app, &eddsa(&claims(), K1_PEM, Some("k3"))).await);
    assert_refused(&me(&app, &eddsa(&claims(), K1_PEM, None)).await);
    assert_refused(&me(&app, &eddsa(&claims(), EVIL_PEM, Some("k1"))).await);
}

#[actix_web::test]
async fn a_kid_carrying_injection_text_is_refused() {
    let app = eddsa_app().await;
    for kid in [
        "../../../../etc/passwd",
        "k1' OR '1'='1",
        "k1; DROP TABLE offices; --",
        "$(curl evil)",
        "k1\u{0}",
        &"k".repeat(500),
    ] {
        assert_refused(&me(&app, &eddsa(&claims(), K1_PEM, Some(kid))).await);
    }
    // The database is untouched.
    assert_eq!(app.db.scalar("SELECT count(*) FROM offices"), "0");
}

#[actix_web::test]
async fn jku_and_x5u_headers_are_never_followed() {
    let app = eddsa_app().await;
    for (name, url) in [
        ("jku", "http://127.0.0.1:9/jwks.json"),
        ("x5u", "http://127.0.0.1:9/cert.pem"),
    ] {
        // Signed with the attacker's key, pointing at the attacker's key set.
        let mut header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "evil"});
        header[name] = json!(url);
        let token = sign_raw(&header, &claims(), EVIL_PEM);
        assert_refused(&me(&app, &token).await);
        // The same header on a genuine token changes nothing: keys come from configuration.
        header["kid"] = json!("k1");
        let token = sign_raw(&header, &claims(), K1_PEM);
        assert_eq!(me(&app, &token).await.status, 200);
    }
    // An embedded jwk is not trusted either.
    let header =
        json!({"alg": "EdDSA", "kid": "evil", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": K1_X}});
    assert_refused(&me(&app, &sign_raw(&header, &claims(), EVIL_PEM)).await);
}

/// Signs an arbitrary header and payload with an Ed25519 key.
fn sign_raw(header: &Value, payload: &Value, pem: &str) -> String {
    ogsms::auth::install_crypto_provider();
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(payload.to_string());
    let message = format!("{h}.{p}");
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::EdDSA).unwrap();
    format!("{message}.{signature}")
}

#[actix_web::test]
async fn a_revoked_token_is_refused_at_once() {
    let app = TestApp::new().await;
    let c = claims();
    let token = hs256(&c, TEST_SECRET);
    assert_eq!(me(&app, &token).await.status, 200);
    let res = app
        .post(
            "/v1/auth/revocations",
            &json!({"jti": c["jti"], "reason": "leaked in a notebook"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_refused(&me(&app, &token).await);
    // Another token of the same subject still works.
    assert_eq!(me(&app, &hs256(&claims(), TEST_SECRET)).await.status, 200);
    // Only the coordinator revokes.
    let viewer = app.token(Role::Viewer, None, None);
    let res = app
        .request(
            Method::POST,
            "/v1/auth/revocations",
            &[("authorization", &format!("Bearer {viewer}"))],
            Some(&json!({"jti": "x"})),
        )
        .await;
    res.problem(403, "forbidden");
}

#[actix_web::test]
async fn a_revocation_with_control_characters_is_422_naming_the_field() {
    let app = TestApp::new().await;
    // A NUL in the jti reached PostgreSQL, which cannot store it, and came back a 500.
    for (body, field) in [
        (json!({"jti": "\u{0}|abc"}), "jti"),
        (json!({"jti": "abc\n"}), "jti"),
        (json!({"jti": "abc", "reason": "leaked\u{0}"}), "reason"),
    ] {
        let res = app.post("/v1/auth/revocations", &body).await;
        res.problem(422, "validation-failed");
        assert_eq!(res.problem_fields(), vec![field.to_owned()], "{body}");
    }
}

#[actix_web::test]
async fn revocations_recorded_elsewhere_reach_the_service() {
    let app = TestApp::new().await;
    let c = claims();
    let token = hs256(&c, TEST_SECRET);
    assert_eq!(me(&app, &token).await.status, 200);
    // As another instance (or the CLI) would: straight into the table.
    app.db
        .execute(&format!(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ('{}', now() + interval '1 hour')",
            c["jti"].as_str().unwrap()
        ))
        .unwrap();
    app.state
        .revocations
        .refresh(&app.state.pool)
        .await
        .unwrap();
    assert_refused(&me(&app, &token).await);
}

async fn account(app: &TestApp, client_id: &str, role: Role) -> String {
    let mut conn = app.state.pool.get().await.unwrap();
    let (_, secret) = ogsms::resources::service_accounts::create(
        &mut conn,
        &ogsms::db::audit::Actor::cli(),
        client_id,
        "Dashboard",
        role,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        app.db.scalar(&format!("SELECT secret_hash LIKE '$argon2id$%' FROM service_accounts WHERE client_id = '{client_id}'")),
        "true",
        "the secret is stored as an argon2id hash"
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM service_accounts WHERE secret_hash LIKE '%{secret}%'"
        )),
        "0"
    );
    secret
}

async fn token_request(app: &TestApp, content_type: &str, body: &str, basic: Option<&str>) -> Resp {
    let mut headers = vec![("content-type", content_type), ("authorization", "none")];
    let basic = basic.map(|b| format!("Basic {}", STANDARD.encode(b)));
    if let Some(b) = &basic {
        headers[1] = ("authorization", b.as_str());
    }
    app.raw(
        Method::POST,
        "/v1/auth/token",
        &headers,
        body.as_bytes().to_vec(),
    )
    .await
}

#[actix_web::test]
async fn client_credentials_give_a_short_lived_token_of_the_accounts_role() {
    let app = TestApp::new().await;
    let secret = account(&app, "powerbi-deco", Role::Viewer).await;
    let form =
        format!("grant_type=client_credentials&client_id=powerbi-deco&client_secret={secret}");
    let res = token_request(&app, "application/x-www-form-urlencoded", &form, None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();
    let who = me(&app, token).await.json();
    assert_eq!(who["sub"], "powerbi-deco");
    assert_eq!(who["role"], "viewer");

    // The same as JSON, and with HTTP Basic.
    let json_body = json!({"grant_type": "client_credentials", "client_id": "powerbi-deco", "client_secret": secret});
    let res = token_request(&app, "application/json", &json_body.to_string(), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = token_request(
        &app,
        "application/x-www-form-urlencoded",
        "grant_type=client_credentials",
        Some(&format!("powerbi-deco:{secret}")),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
}

#[actix_web::test]
async fn bad_client_credentials_are_refused_alike() {
    let app = TestApp::new().await;
    let secret = account(&app, "script-1", Role::Auditor).await;
    for form in [
        "grant_type=client_credentials&client_id=script-1&client_secret=wrong".to_owned(),
        format!("grant_type=client_credentials&client_id=nobody&client_secret={secret}"),
    ] {
        let res = token_request(&app, "application/x-www-form-urlencoded", &form, None).await;
        let p = res.problem(401, "unauthorized");
        assert_eq!(p["error"], "invalid_client");
    }
    let res = token_request(
        &app,
        "application/x-www-form-urlencoded",
        &format!("grant_type=password&client_id=script-1&client_secret={secret}"),
        None,
    )
    .await;
    assert_eq!(
        res.problem(400, "invalid-parameter")["error"],
        "unsupported_grant_type"
    );
    let res = token_request(
        &app,
        "application/x-www-form-urlencoded",
        "grant_type=client_credentials",
        None,
    )
    .await;
    assert_eq!(
        res.problem(400, "invalid-parameter")["error"],
        "invalid_request"
    );
    let res = token_request(&app, "text/plain", "grant_type=client_credentials", None).await;
    res.problem(415, "unsupported-media-type");
}

#[actix_web::test]
async fn a_disabled_account_gets_no_new_tokens() {
    let app = TestApp::new().await;
    let secret = account(&app, "old-script", Role::Viewer).await;
    let form = format!("grant_type=client_credentials&client_id=old-script&client_secret={secret}");
    assert_eq!(
        token_request(&app, "application/x-www-form-urlencoded", &form, None)
            .await
            .status,
        200
    );
    let mut conn = app.state.pool.get().await.unwrap();
    ogsms::resources::service_accounts::set_status(
        &mut conn,
        &ogsms::db::audit::Actor::cli(),
        "old-script",
        ogsms::resources::service_accounts::AccountStatus::Disabled,
    )
    .await
    .unwrap();
    let res = token_request(&app, "application/x-www-form-urlencoded", &form, None).await;
    assert_eq!(res.problem(401, "unauthorized")["error"], "invalid_client");
}

#[actix_web::test]
async fn public_endpoints_need_no_token() {
    let app = TestApp::new().await;
    for path in ["/livez", "/readyz", "/openapi.json", "/docs/"] {
        let res = app.get_with(path, &[("authorization", "none")]).await;
        assert_eq!(res.status, 200, "{path}");
    }
}
