//! Attacks on sign-up: burning CPU through it, many identities for one mailbox, claiming
//! someone else's address before they sign up, and look-alike usernames.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp};
use serde_json::json;

on_every_store!(
    one_mailbox_is_one_account,
    a_pending_account_does_not_hold_its_address_or_name,
    racing_sign_ups_for_one_address_leave_one_account,
    look_alike_usernames_conflict,
    confusable_usernames_conflict,
);

/// 128 characters of l33t-looking symbols: among the most expensive inputs for zxcvbn
/// (several seconds in a debug build), and still "very strong".
fn costly_password() -> String {
    "4@8(3!|1|0$5+7%2".chars().cycle().take(128).collect()
}

async fn resend(c: &Client, email: &str) -> Gql {
    c.gql(
        "mutation($e: String!) { resendVerificationEmail(email: $e) }",
        json!({ "e": email }),
    )
    .await
}

/// A flood of sign-ups over the limit is refused before any costly check, so it answers at
/// once and the server stays responsive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_sign_up_flood_answers_at_once() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.signup_per_client = "1/1h".parse().unwrap();
    })
    .await
    .unwrap();
    app.client()
        .sign_up("first", "first@example.com", PASSWORD)
        .await
        .ok();
    let password = costly_password();
    let senders: Vec<Client> = (0..8).map(|_| app.client()).collect();
    let started = Instant::now();
    let flood =
        futures_util::future::join_all(senders.into_iter().enumerate().map(|(sender, c)| {
            let password = password.clone();
            async move {
                let mut slowest = Duration::ZERO;
                for i in 0..2 {
                    let t = Instant::now();
                    let r = c
                        .sign_up(
                            &format!("flood{sender}x{i}"),
                            &format!("flood{sender}x{i}@example.com"),
                            &password,
                        )
                        .await;
                    assert_eq!(r.code(), "RATE_LIMITED", "{:?}", r.body);
                    slowest = slowest.max(t.elapsed());
                }
                slowest
            }
        }));
    let health = app.client();
    let (mut slowest_health, mut slowest_sign_up) = (Duration::ZERO, Duration::ZERO);
    tokio::pin!(flood);
    let probe = async {
        loop {
            let t = Instant::now();
            assert_eq!(health.get("/healthz").await.status(), 200);
            slowest_health = slowest_health.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        results = &mut flood => {
            slowest_sign_up = results.into_iter().max().unwrap_or_default();
        }
        _ = probe => {}
    }
    let total = started.elapsed();
    // Generous bounds for a busy machine: refused sign-ups take a few milliseconds here, while
    // rating each password first took seconds apiece and stalled /healthz for as long.
    assert!(
        slowest_sign_up < Duration::from_secs(1),
        "a refused sign-up took {slowest_sign_up:?}"
    );
    assert!(total < Duration::from_secs(3), "16 refusals took {total:?}");
    assert!(
        slowest_health < Duration::from_secs(1),
        "/healthz took {slowest_health:?} during the flood"
    );
}

/// Sign-ups that do get to the costly checks (zxcvbn, argon2) run them off the request workers:
/// `/healthz` keeps answering while three of them are rated and hashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_password_checks_leave_the_server_responsive() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.hash_cost = quiz_llm::config::parse::defaults();
    })
    .await
    .unwrap();
    let password = costly_password();
    let sign_ups = futures_util::future::join_all((0..3).map(|i| {
        let (c, password) = (app.client(), password.clone());
        async move {
            c.sign_up(
                &format!("heavy{i}"),
                &format!("heavy{i}@example.com"),
                &password,
            )
            .await
        }
    }));
    let health = app.client();
    let mut slowest = Duration::ZERO;
    tokio::pin!(sign_ups);
    let probe = async {
        loop {
            let t = Instant::now();
            assert_eq!(health.get("/healthz").await.status(), 200);
            slowest = slowest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let results = tokio::select! {
        results = &mut sign_ups => results,
        _ = probe => unreachable!(),
    };
    for r in results {
        r.ok();
    }
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} while passwords were rated"
    );
}

/// Quoted, escaped and compatibility spellings that name an existing mailbox are refused; mail
/// goes to, and uniqueness and limits are about, one canonical address.
async fn one_mailbox_is_one_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |c| {
        c.auth.rate_limits.mail_per_address = "3/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let c = app.client();
    let (_, alice) = app.new_user("alice").await;
    for (i, spelling) in [
        "\"alice\"@example.com",
        "\"al\\ice\"@example.com",
        "\"alice bob\"@example.com",
        "\u{212A}ate@example.com",
        "ａlice@example.com",
    ]
    .iter()
    .enumerate()
    {
        let r = c.sign_up(&format!("other{i}"), spelling, PASSWORD).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("email")),
            "{spelling}: {:?}",
            r.body
        );
    }
    // The Kelvin sign squatted nothing: the real address is free.
    c.sign_up("kate", "kate@example.com", PASSWORD).await.ok();

    let r = c.sign_up("alice2", "ALICE@Example.COM", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("email")));

    // An internationalised domain and its ASCII form are one address: the second sign-up
    // replaces the first (neither is verified), and mail for both goes to one spelling.
    let (idn, ascii) = ("dora@bücher.de", "dora@xn--bcher-kva.de");
    app.client().sign_up("dora", idn, PASSWORD).await.ok();
    let dora = app.client();
    dora.sign_up("dora2", ascii, PASSWORD).await.ok();
    assert_eq!(app.emails_to(ascii).len(), 2);
    let link = app.verification_link(ascii);
    let r = dora.verify_email(&link.uid, &link.token).await.ok();
    assert_eq!(r.data()["verifyEmail"]["user"]["username"], "dora2");
    let r = c.sign_up("dora3", idn, PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("email")));

    // Mail goes to the canonical address, and its limit counts every spelling.
    let bob = "Bob@Example.COM";
    c.sign_up("bob", bob, PASSWORD).await.ok();
    assert_eq!(app.emails_to("bob@example.com").len(), 1);
    for spelling in ["bob@example.com", "BOB@EXAMPLE.COM"] {
        assert_eq!(
            resend(&c, spelling).await.ok().data()["resendVerificationEmail"],
            true
        );
    }
    assert_eq!(resend(&c, "bOb@eXample.com").await.code(), "RATE_LIMITED");
    // Resent links are mailed in the background, after the answer.
    assert_eq!(app.wait_for_emails("bob@example.com", 3).await.len(), 3);

    // Logging in by address uses the same canonical form.
    assert_eq!(
        app.client()
            .login(&alice.to_uppercase(), PASSWORD)
            .await
            .ok()
            .data()["login"]["user"]["username"],
        "alice"
    );
}

/// The attacker signs up first with the victim's address and a password of his choosing. The
/// victim can still sign up, the attacker's links die, and the attacker never gets in.
async fn a_pending_account_does_not_hold_its_address_or_name(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let victim_address = "victim@example.com";
    let attacker_password = "an attacker's own horse battery";
    let attacker = app.client();
    attacker
        .sign_up("mallory", victim_address, attacker_password)
        .await
        .ok();
    let attackers_link = app.verification_link(victim_address);

    // The victim signs up normally: no CONFLICT, and the squatter's account is gone.
    let victim = app.client();
    let r = victim
        .sign_up("victim", victim_address, PASSWORD)
        .await
        .ok();
    let attackers_mail = app.emails_to(victim_address).remove(0);
    assert!(
        attackers_mail.contains("as the user \"mallory\"")
            && attackers_mail.contains("If you did not sign up"),
        "the e-mail names the account and says what to do if it is not yours:\n{attackers_mail}"
    );
    let victim_id = r.data()["signUp"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        victim
            .verify_email(&attackers_link.uid, &attackers_link.token)
            .await
            .code(),
        "INVALID_TOKEN"
    );
    // Resending reaches the victim's own account only.
    resend(&victim, victim_address).await.ok();
    let link = app.verification_link(victim_address);
    assert_eq!(link.uid, victim_id);
    let mail = app.emails_to(victim_address).pop().unwrap();
    assert!(mail.contains("as the user \"victim\""), "{mail}");
    victim.verify_email(&link.uid, &link.token).await.ok();
    assert_eq!(victim.me().await.ok().data()["me"]["username"], "victim");

    for name in ["mallory", victim_address, "victim"] {
        assert_eq!(
            attacker.login(name, attacker_password).await.code(),
            "INVALID_CREDENTIALS",
            "{name}"
        );
    }
    // Verified, the account holds both.
    let r = attacker.sign_up("victim", "m2@example.com", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("username")));
    let r = attacker.sign_up("mallory", victim_address, PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("email")));

    // A pending account does not hold its username either.
    attacker
        .sign_up("carol", "mallory@example.com", attacker_password)
        .await
        .ok();
    let squatted = app.verification_link("mallory@example.com");
    app.new_user("carol").await;
    assert_eq!(
        attacker
            .verify_email(&squatted.uid, &squatted.token)
            .await
            .code(),
        "INVALID_TOKEN"
    );
}

/// Sign-ups racing for one address all succeed, each replacing the one before; exactly one
/// account is left, and only its link works.
async fn racing_sign_ups_for_one_address_leave_one_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let address = "contested@example.com";
    let results = futures_util::future::join_all((0..6).map(|i| {
        let c = app.client();
        async move { c.sign_up(&format!("racer{i}"), address, PASSWORD).await }
    }))
    .await;
    for r in results {
        r.ok();
    }
    let links: Vec<Link> = app
        .emails_to(address)
        .iter()
        .filter_map(|m| Link::find_in(m))
        .collect();
    assert!(!links.is_empty());
    let mut verified = 0;
    for link in links {
        let r = app.client().verify_email(&link.uid, &link.token).await;
        if r.errors().is_none() {
            verified += 1;
        } else {
            assert_eq!(r.code(), "INVALID_TOKEN");
        }
    }
    assert_eq!(verified, 1, "exactly one racer's account is left");
}

/// `aIice`, `al1ce` and `alice.` are not new names next to `alice`.
async fn look_alike_usernames_conflict(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    app.new_user("alice").await;
    app.new_user("b0b").await;
    let c = app.client();
    for (i, name) in [
        "aIice",
        "al1ce",
        "alice.",
        "ALICE",
        "a_l-i.c_e",
        "AL1CE",
        "bob",
        "BOB",
        "b.o.b",
    ]
    .iter()
    .enumerate()
    {
        let r = c
            .sign_up(name, &format!("look{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(
            (r.code(), r.field()),
            ("CONFLICT", Some("username")),
            "{name}: {:?}",
            r.body
        );
    }
    // A username of separators alone has no letters to compare.
    let r = c.sign_up("._-", "dots@example.com", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("username")));
    // Different names are still free.
    c.sign_up("alicia", "alicia@example.com", PASSWORD)
        .await
        .ok();
}

/// Names that read as another's in most fonts (`rnary` for `mary`, `vvill` for `will`, `clave`
/// for `dave`) are taken with it; a Cyrillic look-alike never becomes an account at all.
async fn confusable_usernames_conflict(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    for name in ["mary", "will", "dave"] {
        app.new_user(name).await;
    }
    let c = app.client();
    for (i, name) in [
        "rnary", "RNARY", "r.nary", "vvill", "VVILL", "vviII", "clave",
    ]
    .iter()
    .enumerate()
    {
        let r = c
            .sign_up(name, &format!("confusable{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(
            (r.code(), r.field()),
            ("CONFLICT", Some("username")),
            "{name}: {:?}",
            r.body
        );
    }
    // Cyrillic а (U+0430) and о (U+043E) in Latin names: usernames are ASCII, so a mixed-script
    // look-alike is refused before it can stand next to the original.
    for (i, name) in ["m\u{430}ry", "d\u{430}ve", "vvill\u{43e}"]
        .iter()
        .enumerate()
    {
        let r = c
            .sign_up(name, &format!("cyrillic{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("username")),
            "{name}: {:?}",
            r.body
        );
    }
    // The other way round: `rnary` first makes `mary` taken.
    app.new_user("rnarta").await;
    let r = c.sign_up("marta", "marta@example.com", PASSWORD).await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("username")));
    c.sign_up("wilma", "wilma@example.com", PASSWORD).await.ok();
}
