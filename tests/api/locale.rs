//! Korean and English: the user's language (`User.locale`, `setLocale`), chosen at sign-up from
//! `Accept-Language`, and what a person reads in it.

use serde_json::json;

use crate::common::{self, Backend, TestApp};

const LOCALE: &str = "mutation($l: String!) { setLocale(locale: $l) { username locale } }";

async fn app(backend: Backend) -> Option<TestApp> {
    TestApp::spawn(backend, |_| {}).await
}

on_every_store!(
    sign_up_takes_the_language_of_the_browser,
    guests_take_the_language_of_the_browser,
    set_locale_changes_the_language_and_refuses_others,
    errors_speak_the_browsers_language_until_the_user_chooses,
    mail_goes_out_in_the_recipients_language,
    korean_study_text_gives_korean_questions_without_particles_in_the_choices,
);

async fn sign_up_takes_the_language_of_the_browser(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let korean = app.client().speaking("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7");
    let r = korean
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { message user { locale } } }",
            json!({ "i": { "username": "sejong", "email": "sejong@example.com", "password": common::PASSWORD } }),
        )
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["locale"], "ko");
    assert_eq!(
        r.data()["signUp"]["message"],
        "sejong님, 환영합니다! sejong@example.com 주소로 확인 링크를 보냈습니다. 링크를 열면 계정이 활성화됩니다."
    );

    let english = app.client().speaking("fr-FR, en;q=0.5, ko;q=0");
    let r = english
        .gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { locale } } }",
            json!({ "i": { "username": "ada", "email": "ada@example.com", "password": common::PASSWORD } }),
        )
        .await
        .ok();
    assert_eq!(r.data()["signUp"]["user"]["locale"], "en");

    // No header at all: English.
    let (plain, _) = app.new_user("grace").await;
    let r = plain.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"]["locale"], "en");
}

async fn guests_take_the_language_of_the_browser(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let c = app.client().speaking("ko");
    c.gql("mutation { startGuestSession { user { id } } }", json!({}))
        .await
        .ok();
    let r = c.gql("{ me { isGuest locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"], json!({ "isGuest": true, "locale": "ko" }));
    // Success messages too: the one logging out speaks the browser's language.
    let r = c
        .gql("mutation { logout { message } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["logout"]["message"], "로그아웃했습니다.");
    let (english, _) = app.new_user("ada").await;
    let r = english
        .gql("mutation { logout { message } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["logout"]["message"], "Logged out.");
}

async fn set_locale_changes_the_language_and_refuses_others(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let (c, _) = app.new_user("hangul").await;
    let r = c.gql(LOCALE, json!({ "l": "ko-KR" })).await.ok();
    assert_eq!(
        r.data()["setLocale"],
        json!({ "username": "hangul", "locale": "ko" })
    );
    let r = c.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(r.data()["me"]["locale"], "ko");

    let refused = c.gql(LOCALE, json!({ "l": "fr" })).await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    assert_eq!(refused.field(), Some("locale"));
    let r = c.gql("{ me { locale } }", json!({})).await.ok();
    assert_eq!(
        r.data()["me"]["locale"],
        "ko",
        "a refused change changes nothing"
    );

    let anonymous = app.client().gql(LOCALE, json!({ "l": "en" })).await;
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
}

async fn errors_speak_the_browsers_language_until_the_user_chooses(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let login = |c: common::Client| async move { c.login("nobody", "wrong password 123").await };

    let english = login(app.client()).await;
    assert_eq!(english.code(), "INVALID_CREDENTIALS");
    assert_eq!(english.message(), "Invalid username or password.");
    let korean = login(app.client().speaking("ko-KR,ko;q=0.9,en;q=0.8")).await;
    assert_eq!(korean.code(), "INVALID_CREDENTIALS", "codes never change");
    assert_eq!(
        korean.message(),
        "사용자 이름 또는 비밀번호가 올바르지 않습니다."
    );

    // Arguments are rendered into the Korean text; `field` stays as it is.
    let bad = app
        .client()
        .speaking("ko")
        .sign_up("x", "x@example.com", common::PASSWORD)
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    assert_eq!(bad.field(), Some("username"));
    assert!(
        bad.message().starts_with("사용자 이름은 "),
        "{}",
        bad.message()
    );
    assert!(bad.message().contains("~"), "{}", bad.message());

    // A user's own language (English, from a sign-up without the header) wins over what the
    // browser asks for.
    let (c, _) = app.new_user("sejong").await;
    let page = "{ quizzes(first: 0) { totalCount } }";
    let r = c.speaking("ko").gql(page, json!({})).await;
    assert_eq!(r.field(), Some("first"));
    assert_eq!(r.message(), "`first` must be between 1 and 100.");
    c.gql(LOCALE, json!({ "l": "ko" })).await.ok();
    let r = c.speaking("en").gql(page, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(r.message().contains("1 이상"), "{}", r.message());
    c.gql(LOCALE, json!({ "l": "en" })).await.ok();
    let r = c.speaking("ko").gql(page, json!({})).await;
    assert!(
        r.message().starts_with("`first` must be between 1 and"),
        "{}",
        r.message()
    );

    // Quiz input checks, typed answers and the learning loop speak Korean too.
    c.gql(LOCALE, json!({ "l": "ko" })).await.ok();
    for (input, field, says) in [
        (
            json!({ "topic": " " }),
            "topic",
            "주제는 1자 이상 200자 이하로",
        ),
        (
            json!({ "topic": "t", "sourceText": "짧다.", "questionCount": 30 }),
            "questionCount",
            "`questionCount` 값은 1 이상 20 이하",
        ),
        (
            json!({ "topic": "t", "language": "!!" }),
            "language",
            "언어 코드를 넣어 주세요",
        ),
        (
            json!({ "topic": "t" }),
            "sourceText",
            "학습 자료로 퀴즈를 만듭니다",
        ),
        (
            json!({ "topic": "t", "sourceText": "짧다.", "answerType": "TRUE_FALSE" }),
            "answerType",
            "참/거짓(TRUE_FALSE) 문제는 만들 수 없습니다",
        ),
    ] {
        let r = c.generate_quiz(input).await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some(field)));
        assert!(r.message().contains(says), "{}", r.message());
    }
    let r = c
        .gql(
            "mutation { setDesiredRetention(value: 0.5) { desiredRetention } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.message(),
        "목표 기억률은 0.7 이상 0.97 이하로 정해 주세요."
    );
}

async fn mail_goes_out_in_the_recipients_language(backend: Backend) {
    let Some(app) = app(backend).await else {
        return;
    };
    let c = app.client().speaking("ko-KR");
    c.sign_up("sejong", "sejong@example.com", common::PASSWORD)
        .await
        .ok();
    let sent = app.mailbox.to("sejong@example.com");
    let mail = sent.last().expect("a verification e-mail");
    assert!(!mail.mime.contains("Subject: Confirm"), "{}", mail.mime);
    assert!(
        mail.text
            .contains("\"sejong\"(이)라는 사용자 이름으로 가입했습니다"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("/verify-email?uid="), "{}", mail.text);

    // The recipient's language, not the language of whoever asks for the mail.
    app.client()
        .speaking("en")
        .gql(
            "mutation($e: String!) { resendVerificationEmail(email: $e) }",
            json!({ "e": "sejong@example.com" }),
        )
        .await
        .ok();
    let mails = app.wait_for_emails("sejong@example.com", 2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("3일 뒤에 만료됩니다"), "{}", mails[1]);

    app.client()
        .sign_up("ada", "ada@example.com", common::PASSWORD)
        .await
        .ok();
    let mail = app.mailbox.to("ada@example.com").pop().unwrap();
    assert!(
        mail.mime
            .contains("Subject: Confirm your e-mail address for Quiz LLM"),
        "{}",
        mail.mime
    );
}

/// Refusals that come before GraphQL knows the caller (the transport, the query limits, the
/// stream caps) speak the language of `Accept-Language`, with their codes unchanged.
#[tokio::test]
async fn refusals_before_the_caller_is_known_speak_the_browsers_language() {
    let app = TestApp::spawn(Backend::Sqlite, |s| {
        s.subscriptions.subscriptions_per_connection = 1;
    })
    .await
    .unwrap();
    let korean = app.client().speaking("ko-KR,ko;q=0.9");
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}kind{} }} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let fields = format!("{{ __schema {{ types {{ {} }} }} }}", "name ".repeat(499));
    let paged = "{ a: quizzes(first: 100) { edges { node { questions { content choices { content } } } } } \
                 b: quizzes(first: 100) { edges { node { questions { content choices { content } } } } } }";
    for (query, limit, english, korean_text) in [
        (deep.as_str(), "depth", "nested too deep", "너무 깊습니다"),
        (
            fields.as_str(),
            "complexity",
            "it selects 501 fields",
            "필드를 501개 고르는데",
        ),
        (
            paged,
            "complexity",
            "counting each item of a list page",
            "목록 페이지의 항목마다",
        ),
    ] {
        let r = app.client().gql(query, json!({})).await;
        assert_eq!(
            (
                r.code(),
                r.errors().unwrap()[0]["extensions"]["limit"].as_str()
            ),
            ("BAD_USER_INPUT", Some(limit))
        );
        assert!(r.message().contains(english), "{}", r.message());
        let r = korean.gql(query, json!({})).await;
        assert_eq!(
            (
                r.code(),
                r.errors().unwrap()[0]["extensions"]["limit"].as_str()
            ),
            ("BAD_USER_INPUT", Some(limit)),
            "codes never change"
        );
        assert!(r.message().contains(korean_text), "{}", r.message());
    }

    // The transport's own refusals: a mutation over GET, a form's content type, a batch.
    let get = korean
        .get("/graphql?query=mutation%20%7B%20logout%20%7B%20message%20%7D%20%7D")
        .await;
    assert_eq!(get.status(), 405);
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "뮤테이션은 POST로 보내야 합니다."
    );
    let post = |content_type: &'static str, body: &'static str| {
        korean
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("content-type", content_type)
            .header("accept-language", "ko")
            .body(body)
            .send()
    };
    for (response, says) in [
        (
            post("text/plain", "{\"query\":\"{ __typename }\"}")
                .await
                .unwrap(),
            "Content-Type: application/json으로",
        ),
        (
            post("application/json", "[{\"query\":\"{ __typename }\"}]")
                .await
                .unwrap(),
            "묶어 보낼 수 없습니다",
        ),
        (
            post("application/json", "{\"query\": 7}").await.unwrap(),
            "GraphQL 요청을 읽지 못했습니다: ",
        ),
    ] {
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }

    // Over a socket: the document's checks and the connection's cap, in the upgrade's language.
    let (c, _) = app.new_user("sejong").await;
    let token = common::token_of(&c.login("sejong", common::PASSWORD).await, "login");
    let mut s = common::ws::connect(
        &app.base_url,
        common::ws::Upgrade {
            access_cookie: Some(&token),
            accept_language: Some("ko"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.init(json!({})).await.unwrap();
    s.subscribe(
        "two",
        "subscription { quizEvents { kind } again: quizEvents { kind } }",
        json!({}),
    )
    .await;
    let refused = s.next().await.unwrap();
    let error = &refused["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("정확히 하나"), "{message}");
    assert_eq!(s.next().await.unwrap()["type"], "complete");
    // Once the caller is known, their own language wins (English from a sign-up without the
    // header, then Korean), for errors of a running subscription too.
    let job = "subscription($id: ID!) { quizGeneration(jobId: $id) { id } }";
    for (locale, says) in [("en", "Not found."), ("ko", "찾을 수 없습니다.")] {
        c.gql(LOCALE, json!({ "l": locale })).await.ok();
        s.subscribe(locale, job, json!({ "id": "not-a-job" })).await;
        let denied = s.next_payload(locale).await.unwrap();
        assert_eq!(denied["errors"][0]["extensions"]["code"], "NOT_FOUND");
        assert_eq!(denied["errors"][0]["message"], says);
        assert_eq!(s.next_payload(locale).await, None);
    }
    s.subscribe("one", "subscription { quizEvents { kind } }", json!({}))
        .await;
    app.wait_for_subscriptions("quizEvents", 1).await;
    s.subscribe("more", "subscription { quizEvents { kind } }", json!({}))
        .await;
    let refused = s.next_payload("more").await.unwrap();
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"],
        "subscriptionsPerConnection"
    );
    assert_eq!(
        refused["errors"][0]["message"],
        "연결 하나에서는 구독을 한 번에 1개까지 실행할 수 있습니다."
    );

    // An upgrade from a foreign page is refused in the browser's language.
    let err = common::ws::connect(
        &app.base_url,
        common::ws::Upgrade {
            origin: Some("https://evil.example"),
            accept_language: Some("ko"),
            ..Default::default()
        },
    )
    .await
    .err()
    .unwrap();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("not refused by HTTP: {err}");
    };
    assert_eq!(response.status().as_u16(), 403);
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("이 사이트의 페이지"),
        "{body}"
    );
}

#[tokio::test]
async fn link_pages_speak_the_browsers_language() {
    let Some(app) = app(Backend::Sqlite).await else {
        return;
    };
    let page = |path: &'static str, languages: Option<&'static str>| {
        let c = app.client();
        let c = match languages {
            Some(l) => c.speaking(l),
            None => c,
        };
        async move { c.get(path).await.text().await.unwrap() }
    };
    let korean = page("/verify-email?uid=u&token=t", Some("ko-KR,ko;q=0.9")).await;
    assert!(korean.contains(r#"<html lang="ko">"#), "{korean}");
    assert!(korean.contains("확인 버튼을 누르면"), "{korean}");
    assert!(
        korean.contains(r#"data-incomplete="링크가 잘렸습니다."#),
        "{korean}"
    );
    let english = page("/verify-email?uid=u&token=t", None).await;
    assert!(english.contains(r#"<html lang="en">"#), "{english}");
    assert!(
        english.contains("Press Confirm to activate your account"),
        "{english}"
    );
    let reset = page("/reset-password?uid=u&token=t", Some("ko")).await;
    assert!(reset.contains("새 비밀번호로 바꾸기"), "{reset}");
    let reset = page("/reset-password?uid=u&token=t", Some("de, en;q=0.1")).await;
    assert!(reset.contains("Set new password"), "{reset}");
}

/// Study notes as a Korean learner would write them: nouns with particles, years, names.
const HANGEUL_NOTES: &str = "훈민정음은 세종대왕이 1443년에 만든 문자이다. 세종대왕은 백성이 글을 \
쉽게 익히기를 바랐다. 집현전 학자들은 새 문자를 연구하고 해설서를 썼다. 훈민정음 해례본은 1446년에 \
세상에 나왔다.

조선의 수도는 한양이었다. 한양은 지금의 서울이다. 경복궁은 한양의 중심에 지어진 궁궐이다. \
임진왜란 때 경복궁은 불에 탔고, 흥선대원군이 1867년에 경복궁을 다시 지었다.

한강은 서울을 동서로 가로지르는 강이다. 여의도는 한강 가운데에 있는 섬이며, 국회의사당도 \
여의도에 있다. 남산은 서울의 한가운데에 솟아 있고, 남산 꼭대기에는 1975년에 세운 서울타워가 서 \
있다.";

/// Particles a Korean noun takes. The first ones end no noun of the text, so none may end a
/// choice; the rest also end nouns (여의도, 한가운데) and may only follow the blank.
const PARTICLES: &[&str] = &[
    "은", "는", "을", "를", "에서", "으로", "와", "과", "부터", "까지", "처럼", "보다", "에게",
    "에는", "의", "에", "도", "만", "이다",
];
const NEVER_ENDS_A_NOUN: usize = 14;

async fn korean_study_text_gives_korean_questions_without_particles_in_the_choices(
    backend: Backend,
) {
    let Some(app) = app(backend).await else {
        return;
    };
    let (c, _) = app.new_user("hangul").await;
    let quiz = c
        .generate_quiz(json!({
            "topic": "한글과 서울",
            "sourceText": HANGEUL_NOTES,
            "questionCount": 6,
            "choiceCount": 4,
            "language": "ko",
        }))
        .await
        .ok()
        .data()["generateQuiz"]
        .clone();
    assert_eq!(quiz["source"], "OFFLINE");
    assert_eq!(
        quiz["description"],
        "학습 자료에서 뽑아 만든 빈칸 채우기 문제 6개입니다."
    );
    let hangul_only = |s: &str| s.chars().all(|ch| ('가'..='힣').contains(&ch));
    for q in quiz["questions"].as_array().unwrap() {
        let stem = q["content"].as_str().unwrap();
        let blanked = stem
            .strip_prefix("빈칸에 들어갈 알맞은 말을 고르세요: \"")
            .unwrap_or_else(|| panic!("not a Korean stem: {stem}"));
        // The particle stays in the sentence, right after the blank.
        let after: String = blanked
            .split("_____")
            .nth(1)
            .unwrap_or_else(|| panic!("no blank: {stem}"))
            .chars()
            .take_while(|ch| ('가'..='힣').contains(ch))
            .collect();
        // A year keeps its counter too: "_____년에".
        let after = after.trim_start_matches('년');
        assert!(
            after.is_empty() || PARTICLES.contains(&after) || after == "이" || after == "가",
            "{after:?} after the blank is not a particle: {stem}"
        );
        let choices: Vec<&str> = q["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ch| ch["content"].as_str().unwrap())
            .collect();
        for choice in &choices {
            assert!(
                !PARTICLES[..NEVER_ENDS_A_NOUN]
                    .iter()
                    .any(|p| choice.len() > p.len() && choice.ends_with(p)),
                "{choice:?} carries a particle: {stem} {choices:?}"
            );
            assert!(
                HANGEUL_NOTES.contains(choice),
                "{choice:?} is not from the text"
            );
        }
        // Choices of one kind: all years, or all Hangul nouns.
        let numeric = choices
            .iter()
            .filter(|ch| ch.chars().any(|c| c.is_ascii_digit()))
            .count();
        assert!(
            numeric == 0 || numeric == choices.len(),
            "mixed kinds: {choices:?}"
        );
        if numeric == 0 {
            assert!(choices.iter().all(|ch| hangul_only(ch)), "{choices:?}");
        }
    }
    let r = c.submit(quiz["id"].as_str().unwrap(), &[]).await.ok();
    let explanation = r.data()["submitQuizAnswers"]["details"][0]["explanation"]
        .as_str()
        .unwrap();
    assert!(
        explanation.starts_with("본문에는 이렇게 나옵니다: \""),
        "{explanation}"
    );
}
