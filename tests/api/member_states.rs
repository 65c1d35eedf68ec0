//! The member states seeded by the migration.

use crate::common::TestApp;

#[actix_web::test]
async fn all_35_member_states_with_names_in_four_languages() {
    let app = TestApp::new().await;
    let items = app.collect("/v1/member-states?limit=10").await;
    assert_eq!(items.len(), 35);
    for s in &items {
        for lang in ["en", "es", "fr", "pt"] {
            assert!(
                s["name"][lang].as_str().is_some_and(|n| !n.is_empty()),
                "{} lacks {lang}",
                s["code"]
            );
        }
        assert_eq!(s["code"].as_str().unwrap().len(), 2);
        assert_eq!(s["alpha3"].as_str().unwrap().len(), 3);
    }
    let codes: Vec<&str> = items.iter().map(|s| s["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted, "default order is by code");
    for code in ["AR", "BR", "CA", "US", "VC", "TT"] {
        assert!(codes.contains(&code), "{code} missing");
    }
}

#[actix_web::test]
async fn get_by_alpha2_or_alpha3_with_etag() {
    let app = TestApp::new().await;
    let res = app.get("/v1/member-states/PE").await;
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(body["alpha3"], "PER");
    assert_eq!(body["name"]["es"], "Perú");
    let etag = res.header("etag").expect("an ETag");
    assert_eq!(app.get("/v1/member-states/per").await.json(), body);
    let res = app
        .get_with("/v1/member-states/PE", &[("if-none-match", &etag)])
        .await;
    assert_eq!(res.status, 304);
    app.get("/v1/member-states/XX")
        .await
        .problem(404, "not-found");
    app.get("/v1/member-states/not-a-code")
        .await
        .problem(404, "not-found");
}

#[actix_web::test]
async fn sorted_descending_by_alpha3() {
    let app = TestApp::new().await;
    let items = app.collect("/v1/member-states?sort=-alpha3&limit=7").await;
    let a3: Vec<&str> = items
        .iter()
        .map(|s| s["alpha3"].as_str().unwrap())
        .collect();
    let mut sorted = a3.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(a3, sorted);
    assert_eq!(a3.len(), 35);
}
