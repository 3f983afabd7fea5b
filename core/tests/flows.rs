//! The engine against a scripted CA: every flow and failure path of RFC 8555 as the core
//! implements it. The fake CA verifies signatures, nonces and key authorizations, so a
//! passing flow is one a real CA would accept.

// Test code: a panic with a message is how it reports a broken expectation.
#![allow(clippy::expect_used)]

mod support;

use certsmith_core::{
    AccountStatus, Action, ChallengeType, Client, ClientConfig, Command, Error, ExternalAccountKey,
    Identifier, Input, KeyType, NewAccountRequest, OrderRequest, Outcome, PrivateKey, ProblemKind,
    RetryPolicy, RevocationRequest, RevocationSigner, Snapshot, Solution, Timestamp,
    inspect_certificate, key_matches_certificate, split_pem_chain,
};
use support::fake_ca::{ALTERNATE_ISSUER, DEFAULT_ISSUER};
use support::{DIRECTORY, DeployMode, Event, Harness, Knobs, dns};
use zeroize::Zeroizing;

/// An order for `names` answered with `kind` only.
fn order_with(names: &[&str], kind: ChallengeType) -> OrderRequest {
    OrderRequest {
        challenge_types: vec![kind],
        ..OrderRequest::new(dns(names))
    }
}

/// The issued certificate of an outcome, checked: parses, certifies its key, names `names`.
fn issued(outcome: Result<Outcome, Error>, names: &[&str]) -> certsmith_core::IssuedCertificate {
    let Ok(Outcome::Certificate(cert)) = outcome else {
        panic!("expected a certificate, got {outcome:?}");
    };
    let ders = split_pem_chain(&cert.chain_pem).expect("chain parses");
    let key =
        PrivateKey::from_pem(cert.private_key_pem.as_ref().expect("engine key")).expect("key");
    assert!(key_matches_certificate(&key, &ders[0]).expect("leaf"));
    let sans: Vec<String> = inspect_certificate(&ders[0])
        .expect("leaf")
        .sans
        .into_iter()
        .map(|s| s.value)
        .collect();
    let mut want: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut got = sans;
    want.sort();
    got.sort();
    assert_eq!(got, want);
    cert
}

/// A harness with an account.
fn registered(knobs: Knobs) -> Harness {
    let mut h = Harness::new(knobs);
    h.register();
    h
}

#[test]
fn account_is_created_once_and_found_again() {
    let mut h = Harness::new(Knobs::default());
    let first = h.register();
    assert!(first.created);
    assert_eq!(first.account.status, AccountStatus::Valid);
    assert_eq!(first.account.contact, ["mailto:admin@example.com"]);
    assert_eq!(h.client.account_url(), Some(first.url.as_str()));
    let again = h.register();
    assert!(!again.created, "same key: the CA finds the account");
    assert_eq!(again.url, first.url);
    assert_eq!(h.ca.account_count(), 1);
}

#[test]
fn only_return_existing_does_not_create() {
    let mut h = Harness::new(Knobs::default());
    let op = h
        .client
        .start(Command::NewAccount(NewAccountRequest {
            only_return_existing: true,
            ..Default::default()
        }))
        .expect("starts");
    let err = h.finish(op).expect_err("no such account");
    assert!(
        err.problem()
            .is_some_and(|p| p.problem_kind() == ProblemKind::AccountDoesNotExist),
        "{err}"
    );
    assert_eq!(h.ca.account_count(), 0);
    assert_eq!(h.client.account_url(), None);
}

#[test]
fn external_account_binding() {
    let eab = (
        "kid-1".to_owned(),
        b"a-secret-hmac-key-from-the-ca".to_vec(),
    );
    let knobs = Knobs {
        eab: Some(eab.clone()),
        ..Knobs::default()
    };

    let mut missing = Harness::new(knobs.clone());
    let op = missing
        .client
        .start(Command::NewAccount(NewAccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        }))
        .expect("starts");
    let err = missing.finish(op).expect_err("EAB required");
    assert!(
        err.to_string().contains("external account binding"),
        "{err}"
    );
    assert_eq!(missing.ca.count("new-acct"), 0, "refused before sending");

    let mut h = Harness::new(knobs);
    let op = h
        .client
        .start(Command::NewAccount(NewAccountRequest {
            terms_of_service_agreed: true,
            external_account: Some(ExternalAccountKey {
                kid: eab.0,
                hmac_key: Zeroizing::new(eab.1),
            }),
            ..Default::default()
        }))
        .expect("starts");
    assert!(matches!(h.finish(op), Ok(Outcome::Account(a)) if a.created));
}

#[test]
fn update_and_fetch_account() {
    let mut h = registered(Knobs::default());
    let op = h
        .client
        .start(Command::UpdateAccount {
            contact: vec!["mailto:new@example.com".into()],
        })
        .expect("starts");
    let Ok(Outcome::Account(updated)) = h.finish(op) else {
        panic!("update")
    };
    assert_eq!(updated.account.contact, ["mailto:new@example.com"]);
    let op = h.client.start(Command::FetchAccount).expect("starts");
    let Ok(Outcome::Account(fetched)) = h.finish(op) else {
        panic!("fetch")
    };
    assert_eq!(fetched.account.contact, ["mailto:new@example.com"]);
    assert_eq!(fetched.url, updated.url);
}

#[test]
fn key_rollover_then_the_new_key_signs() {
    let mut h = registered(Knobs::default());
    let new_key = PrivateKey::generate(KeyType::P384).expect("key");
    let op = h
        .client
        .start(Command::ChangeKey(new_key.clone()))
        .expect("starts");
    assert!(matches!(h.finish(op), Ok(Outcome::KeyChanged)));
    assert_eq!(h.client.account_key().jwk(), new_key.jwk());
    // The CA verifies every later request against the new key.
    issued(
        h.order(OrderRequest::new(dns(&["after-rollover.example"]))),
        &["after-rollover.example"],
    );
}

#[test]
fn deactivated_account_cannot_order() {
    let mut h = registered(Knobs::default());
    let op = h.client.start(Command::DeactivateAccount).expect("starts");
    let Ok(Outcome::Account(info)) = h.finish(op) else {
        panic!("deactivate")
    };
    assert_eq!(info.account.status, AccountStatus::Deactivated);
    assert_eq!(h.ca.account_status(0), "deactivated");
    let err = h
        .order(OrderRequest::new(dns(&["x.example"])))
        .expect_err("deactivated");
    assert!(
        err.problem()
            .is_some_and(|p| p.problem_kind() == ProblemKind::Unauthorized),
        "{err}"
    );
}

#[test]
fn operations_without_an_account_fail_clearly() {
    let mut h = Harness::new(Knobs::default());
    let err = h
        .order(OrderRequest::new(dns(&["x.example"])))
        .expect_err("no account");
    assert_eq!(err, Error::NoAccount);
    assert_eq!(h.ca.count("new-order"), 0);
}

#[test]
fn operations_wait_for_an_account_being_created() {
    let mut h = Harness::new(Knobs::default());
    let account = h
        .client
        .start(Command::NewAccount(NewAccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        }))
        .expect("starts");
    let order = h
        .client
        .start(Command::Order(OrderRequest::new(dns(&["wait.example"]))))
        .expect("order");
    h.run();
    assert!(matches!(h.result(account), Ok(Outcome::Account(_))));
    issued(h.result(order), &["wait.example"]);
}

#[test]
fn three_names_one_already_valid() {
    let mut h = registered(Knobs {
        preset_valid: vec!["b.example".into()],
        ..Knobs::default()
    });
    let names = ["a.example", "b.example", "c.example"];
    issued(h.order(OrderRequest::new(dns(&names))), &names);
    let deployed: Vec<&str> = h
        .deploys()
        .iter()
        .map(|t| t.identifier.value.as_str())
        .collect();
    assert_eq!(deployed, ["a.example", "c.example"]);
    assert_eq!(h.cleanups().len(), 2);
    assert_eq!(h.published_count(), 0, "every challenge was cleaned up");
}

#[test]
fn every_challenge_type_validates() {
    let cases: [(&[&str], ChallengeType); 4] = [
        (&["http.example"], ChallengeType::Http01),
        (&["*.wild.example", "wild.example"], ChallengeType::Dns01),
        (&["alpn.example"], ChallengeType::TlsAlpn01),
        (&["dns.example"], ChallengeType::Dns01),
    ];
    for (names, kind) in cases {
        let mut h = registered(Knobs::default());
        issued(h.order(order_with(names, kind)), names);
        assert!(
            h.deploys().iter().all(|t| t.challenge_type() == kind),
            "{kind:?}"
        );
        let wildcard = h
            .deploys()
            .iter()
            .find(|t| t.identifier.is_wildcard())
            .map(|t| &t.solution);
        if let Some(Solution::Dns01 { record_name, .. }) = wildcard {
            assert_eq!(record_name, "_acme-challenge.wild.example");
        }
    }
}

#[test]
fn wildcards_get_dns01_even_when_http01_is_preferred() {
    let mut h = registered(Knobs::default());
    let request = OrderRequest::new(dns(&["*.pref.example"]));
    issued(h.order(request), &["*.pref.example"]);
    assert_eq!(h.deploys()[0].challenge_type(), ChallengeType::Dns01);

    let mut h = registered(Knobs::default());
    let err = h
        .order(order_with(&["*.only-http.example"], ChallengeType::Http01))
        .expect_err("no dns-01");
    assert!(
        matches!(err, Error::NoCompatibleChallenge { ref identifier, .. } if identifier.value == "*.only-http.example"),
        "{err}"
    );
}

#[test]
fn ip_identifiers() {
    let mut h = registered(Knobs::default());
    let request = OrderRequest::new(vec![
        Identifier::ip("192.0.2.10"),
        Identifier::ip("2001:DB8::1"),
    ]);
    issued(h.order(request), &["192.0.2.10", "2001:db8::1"]);
    assert!(
        h.deploys()
            .iter()
            .all(|t| t.challenge_type() == ChallengeType::Http01)
    );
}

#[test]
fn bad_nonce_storms() {
    let mut h = registered(Knobs::default());
    h.ca.knobs.reject_nonces = 15;
    issued(
        h.order(OrderRequest::new(dns(&["storm.example"]))),
        &["storm.example"],
    );

    let mut h = registered(Knobs::default());
    h.ca.knobs.reject_nonces = 21;
    let err = h
        .order(OrderRequest::new(dns(&["storm.example"])))
        .expect_err("gives up");
    assert!(
        err.problem()
            .is_some_and(|p| p.problem_kind() == ProblemKind::BadNonce),
        "{err}"
    );
}

#[test]
fn server_errors_are_retried_then_surface() {
    let mut h = registered(Knobs::default());
    h.ca.knobs.server_errors = 2;
    issued(
        h.order(OrderRequest::new(dns(&["flaky.example"]))),
        &["flaky.example"],
    );

    let mut h = registered(Knobs::default());
    h.ca.knobs.server_errors = 4;
    let err = h
        .order(OrderRequest::new(dns(&["down.example"])))
        .expect_err("gives up");
    assert!(
        err.problem()
            .is_some_and(|p| p.problem_kind() == ProblemKind::ServerInternal),
        "{err}"
    );
}

#[test]
fn rate_limits_surface_with_retry_after() {
    let mut h = registered(Knobs {
        rate_limited: true,
        ..Knobs::default()
    });
    let now = h.now;
    let err = h
        .order(OrderRequest::new(dns(&["limited.example"])))
        .expect_err("limited");
    assert!(err.is_rate_limited(), "{err}");
    assert_eq!(err.retry_after(), Some(now.plus_millis(3_600_000)));
    assert_eq!(h.ca.count("new-order"), 1, "not retried inline");
}

/// When the fake CA saw each authorization request.
fn authz_polls(h: &Harness) -> Vec<certsmith_core::Timestamp> {
    h.ca.log
        .iter()
        .filter(|s| s.endpoint == "authz")
        .map(|s| s.at)
        .collect()
}

#[test]
fn retry_after_spaces_the_polls() {
    let mut h = registered(Knobs {
        authz_pending_polls: 2,
        retry_after_secs: Some(7),
        ..Knobs::default()
    });
    issued(
        h.order(OrderRequest::new(dns(&["slow.example"]))),
        &["slow.example"],
    );
    let polls = authz_polls(&h);
    assert!(polls.len() >= 3, "{polls:?}");
    for pair in polls[1..].windows(2) {
        assert!(
            pair[1].millis_since(pair[0]) >= 7_000,
            "polls {pair:?} closer than Retry-After"
        );
    }
}

#[test]
fn a_day_long_retry_after_is_cut_to_a_minute_and_polling_ends_at_its_deadline() {
    let mut h = registered(Knobs {
        authz_pending_polls: u32::MAX,
        retry_after_secs: Some(86_400),
        ..Knobs::default()
    });
    let err = h
        .order(OrderRequest::new(dns(&["stuck.example"])))
        .expect_err("the authorization never leaves pending");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let polls = authz_polls(&h);
    for pair in polls[1..].windows(2) {
        assert!(pair[1].millis_since(pair[0]) <= 60_000, "{pair:?}");
    }
    let policy = certsmith_core::RetryPolicy::default();
    let span = polls[polls.len() - 1].millis_since(polls[1]);
    assert!(
        span <= policy.poll_timeout_ms,
        "the last poll is at the deadline: {span} ms"
    );
    assert!(span >= policy.poll_timeout_ms - 60_000, "{span} ms");
    assert_eq!(h.cleanups().len(), 1, "the challenge is removed");
}

#[test]
fn an_authorization_for_a_name_never_ordered_is_not_published() {
    let mut h = registered(Knobs {
        foreign_identifier: Some("victim.example".into()),
        ..Knobs::default()
    });
    let err = h
        .order(OrderRequest::new(dns(&["mine.example"])))
        .expect_err("a hostile authorization");
    assert!(
        matches!(&err, Error::InvalidResponse { expected, .. } if expected.contains("victim.example")),
        "{err}"
    );
    assert_eq!(err.fault(), certsmith_core::Fault::Ca);
    let deployed = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Deploy(..)))
        .count();
    assert_eq!(deployed, 0, "no challenge was published");
}

/// Found by the `ca_authorization` fuzz target: a CA answering one authorization URL with
/// another's object (same name, same token) left one challenge never reported and the order
/// waiting for ever.
#[test]
fn an_authorization_repeating_another_ends_the_order() {
    let names = ["a.example", "b.example"];
    let mut clean = registered(Knobs::default());
    let first = clean.ca.log.len();
    issued(clean.order(OrderRequest::new(dns(&names))), &names);
    let authz_answers: Vec<_> = clean.ca.log[first..]
        .iter()
        .zip(&clean.answers[first..])
        .filter(|(seen, _)| seen.endpoint == "authz")
        .map(|(_, answer)| answer.clone())
        .collect();
    let first_authz = first
        + clean.ca.log[first..]
            .iter()
            .position(|s| s.endpoint == "authz")
            .expect("an authz");

    let mut h = registered(Knobs::default());
    h.tamper = Some((first_authz, authz_answers[1].clone()));
    let err = h
        .order(OrderRequest::new(dns(&names)))
        .expect_err("a repeated authorization");
    assert!(
        matches!(&err, Error::InvalidResponse { expected, .. } if expected.contains("b.example")),
        "{err}"
    );
    assert_eq!(
        h.published_count(),
        0,
        "the published challenge was cleaned up"
    );
}

#[test]
fn polls_back_off_without_retry_after() {
    let mut h = registered(Knobs {
        authz_pending_polls: 6,
        ..Knobs::default()
    });
    issued(
        h.order(OrderRequest::new(dns(&["backoff.example"]))),
        &["backoff.example"],
    );
    let polls = authz_polls(&h);
    let gaps: Vec<u64> = polls[1..]
        .windows(2)
        .map(|p| p[1].millis_since(p[0]))
        .collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "non-decreasing {gaps:?}"
    );
    assert!(
        gaps[0] < 1_000 && gaps.iter().all(|g| *g <= 3_000),
        "small start, capped: {gaps:?}"
    );
}

#[test]
fn invalid_authorization_names_identifier_type_and_detail_and_cleans_up() {
    let mut h = registered(Knobs::default());
    h.deploy = DeployMode::Wrong;
    let err = h
        .order(OrderRequest::new(dns(&["ok.example", "bad.example"])))
        .expect_err("invalid");
    let Error::AuthorizationFailed {
        identifier,
        challenge_type,
        problem,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(identifier.value, "ok.example");
    assert_eq!(challenge_type, "http-01");
    assert!(
        problem
            .as_ref()
            .is_some_and(|p| p.problem_kind() == ProblemKind::IncorrectResponse)
    );
    let text = err.to_string();
    assert!(
        text.contains("ok.example") && text.contains("http-01") && text.contains("wrong answer"),
        "{text}"
    );
    assert_eq!(h.cleanups().len(), 2, "both deployed challenges cleaned up");
    assert_eq!(h.published_count(), 0);
}

#[test]
fn deploy_failure_cleans_up_and_names_the_identifier() {
    let mut h = registered(Knobs::default());
    h.deploy = DeployMode::Fail;
    let err = h
        .order(OrderRequest::new(dns(&["hook.example"])))
        .expect_err("deploy failed");
    assert!(
        matches!(&err, Error::ChallengeDeployFailed { identifier, reason }
        if identifier.value == "hook.example" && reason.contains("status 3")),
        "{err}"
    );
    assert_eq!(h.cleanups().len(), 1);
    assert_eq!(h.ca.count("chall"), 0, "the CA was never asked to validate");
}

#[test]
fn a_deployment_still_running_when_the_order_fails_is_cleaned_up_after_it_reports() {
    let mut h = registered(Knobs::default());
    h.deploy = DeployMode::FailFirstHoldRest;
    let op = h
        .client
        .start(Command::Order(OrderRequest::new(dns(&[
            "broken.example",
            "slow.example",
        ]))))
        .expect("starts");
    h.run();
    let err = h.result(op).expect_err("the first zone failed");
    assert!(
        matches!(&err, Error::ChallengeDeployFailed { identifier, .. } if identifier.value == "broken.example"),
        "the real cause: {err}"
    );
    assert_eq!(h.held.len(), 1, "the slow zone is still publishing");
    assert_eq!(
        h.cleanups().len(),
        1,
        "only the reported challenge is cleaned up so far"
    );
    // The slow zone finishes after the order failed: no error, and its cleanup follows.
    let (held_op, token) = h.held[0].clone();
    h.client
        .handle(h.now, held_op, Input::ChallengeReady { token })
        .expect("a late deployment result is taken");
    h.run();
    assert_eq!(h.cleanups().len(), 2, "{:?}", h.cleanups());
    assert_eq!(h.published_count(), 0, "nothing stays published");
}

/// An answer cut short (the CA acted on the request, its answer was lost on the way) to
/// any request of an order: a read is asked for again; a write the CA took (newOrder,
/// a challenge answer, finalize) is never sent again, and the order's or authorization's
/// state is read instead. Either way the order is issued, with one newOrder, one answer per
/// challenge and one finalize.
#[test]
fn an_answer_cut_short_is_read_again_and_a_write_is_never_repeated() {
    let mut checked = 0;
    for n in 0..40 {
        let mut h = registered(Knobs {
            authz_pending_polls: 1,
            finalize_processing_polls: 1,
            ..Knobs::default()
        });
        let first = h.sent;
        h.cut_body_of = Some(first + n);
        let result = h.order(OrderRequest::new(dns(&["garbled.example"])));
        let Some(cut) = h.ca.log.get(first + n).map(|s| s.endpoint.clone()) else {
            break;
        };
        checked += 1;
        issued(result, &["garbled.example"]);
        for write in ["new-order", "chall", "finalize"] {
            assert_eq!(
                h.ca.count(write),
                1,
                "{write} sent twice after {cut} was cut short"
            );
        }
    }
    assert!(
        checked >= 7,
        "the order's requests were each cut short once ({checked})"
    );
}

#[test]
fn processing_orders_are_polled_until_valid() {
    let mut h = registered(Knobs {
        finalize_processing_polls: 3,
        retry_after_secs: Some(2),
        ..Knobs::default()
    });
    issued(
        h.order(OrderRequest::new(dns(&["proc.example"]))),
        &["proc.example"],
    );
    assert_eq!(h.ca.count("order"), 4);
}

#[test]
fn preferred_issuer_selects_the_alternate_chain() {
    for (preferred, expected) in [
        (None, DEFAULT_ISSUER),
        (Some(ALTERNATE_ISSUER), ALTERNATE_ISSUER),
        (Some("Nobody"), DEFAULT_ISSUER),
    ] {
        let mut h = registered(Knobs {
            alternate_chain: true,
            ..Knobs::default()
        });
        let request = OrderRequest {
            preferred_issuer: preferred.map(str::to_owned),
            ..OrderRequest::new(dns(&["chain.example"]))
        };
        let cert = issued(h.order(request), &["chain.example"]);
        let ders = split_pem_chain(&cert.chain_pem).expect("chain");
        let top = inspect_certificate(ders.last().expect("top")).expect("top");
        assert_eq!(
            top.issuer_common_name.as_deref(),
            Some(expected),
            "preferred {preferred:?}"
        );
        assert_eq!(cert.alternate_urls.len(), 1);
    }
}

#[test]
fn revocation_by_account_and_by_certificate_key() {
    for by_key in [false, true] {
        let mut h = registered(Knobs::default());
        let cert = issued(
            h.order(OrderRequest::new(dns(&["revoke.example"]))),
            &["revoke.example"],
        );
        let der = split_pem_chain(&cert.chain_pem).expect("chain").remove(0);
        let signer = if by_key {
            RevocationSigner::CertificateKey(
                PrivateKey::from_pem(cert.private_key_pem.as_ref().expect("key")).expect("key"),
            )
        } else {
            RevocationSigner::Account
        };
        let op = h
            .client
            .start(Command::Revoke(RevocationRequest {
                certificate_der: der.clone(),
                reason: Some(4),
                signer,
            }))
            .expect("starts");
        assert!(
            matches!(h.finish(op), Ok(Outcome::Revoked)),
            "by key: {by_key}"
        );
        assert_eq!(h.ca.revoked, [der]);
    }
}

#[test]
fn revocation_reason_is_checked() {
    let mut h = registered(Knobs::default());
    let op = h
        .client
        .start(Command::Revoke(RevocationRequest {
            certificate_der: vec![1],
            reason: Some(7),
            signer: RevocationSigner::Account,
        }))
        .expect("starts");
    let err = h.finish(op).expect_err("reason 7 is unused");
    assert!(err.to_string().contains("reason 7"), "{err}");
    assert_eq!(h.ca.count("revoke"), 0);
}

#[test]
fn renewal_information() {
    let mut h = registered(Knobs {
        ari: true,
        ..Knobs::default()
    });
    let cert = issued(
        h.order(OrderRequest::new(dns(&["ari.example"]))),
        &["ari.example"],
    );
    let der = split_pem_chain(&cert.chain_pem).expect("chain").remove(0);
    let op = h
        .client
        .start(Command::RenewalInfo {
            certificate_der: der.clone(),
        })
        .expect("has AKI");
    let now = h.now;
    let Ok(Outcome::RenewalInfo(advice)) = h.finish(op) else {
        panic!("ARI")
    };
    assert_eq!(
        advice.window_start,
        certsmith_core::Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").expect("t")
    );
    assert!(advice.window_start <= advice.renew_at && advice.renew_at < advice.window_end);
    assert_eq!(advice.check_again_at, now.plus_millis(21_600_000));
    assert_eq!(
        advice.explanation_url.as_deref(),
        Some("https://ca.test/why")
    );

    let mut no_ari = registered(Knobs::default());
    let op = no_ari
        .client
        .start(Command::RenewalInfo {
            certificate_der: der.clone(),
        })
        .expect("has AKI");
    let err = no_ari.finish(op).expect_err("no ARI");
    assert!(err.to_string().contains("renewalInfo"), "{err}");
}

#[test]
fn already_replaced_is_retried_once_without_replaces() {
    let mut h = registered(Knobs {
        already_replaced: true,
        ..Knobs::default()
    });
    let request = OrderRequest {
        replaces: Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".into()),
        ..OrderRequest::new(dns(&["again.example"]))
    };
    issued(h.order(request), &["again.example"]);
    assert_eq!(h.ca.count("new-order"), 2);
}

#[test]
fn profiles_are_checked_against_the_directory() {
    let mut h = registered(Knobs {
        profiles: vec!["classic".into(), "shortlived".into()],
        ..Knobs::default()
    });
    let request = |p: &str| OrderRequest {
        profile: Some(p.into()),
        ..OrderRequest::new(dns(&["p.example"]))
    };
    issued(h.order(request("shortlived")), &["p.example"]);
    let err = h.order(request("tlsclient")).expect_err("unknown profile");
    assert!(err.to_string().contains("classic, shortlived"), "{err}");
}

#[test]
fn malformed_identifiers_are_refused_before_anything_is_sent() {
    let mut h = registered(Knobs::default());
    let sent = h.client.requests_sent();
    let err = h
        .client
        .start(Command::Order(OrderRequest::new(dns(&[
            "bad name.example",
        ]))))
        .expect_err("malformed");
    assert!(err.to_string().contains("bad name.example"), "{err}");
    assert_eq!(h.client.requests_sent(), sent);
}

/// Starts an order for `names` and stops it (a crash) once it has saved its snapshot,
/// which it returns (JSON): the order and its authorizations stay pending at the CA.
fn interrupted_order(h: &mut Harness, names: &[&str]) -> String {
    h.crash_after_save = true;
    let op = h
        .client
        .start(Command::Order(OrderRequest::new(dns(names))))
        .expect("valid order");
    h.run();
    h.events
        .iter()
        .find_map(|e| match e {
            Event::Save(o, s) if *o == op => Some(s.to_json()),
            _ => None,
        })
        .expect("a snapshot after newOrder")
}

#[test]
fn a_crash_after_new_order_resumes_the_same_order() {
    let mut h = registered(Knobs {
        authz_pending_polls: 1,
        ..Knobs::default()
    });
    let account_url = h.client.account_url().expect("url").to_owned();
    let key = h.client.account_key().clone();
    let json = interrupted_order(&mut h, &["crash.example", "crash2.example"]);
    assert!(
        json.contains("PRIVATE KEY"),
        "the certificate key is in the snapshot"
    );

    // Restart: a new client with the same account, given the stored snapshot.
    let config = ClientConfig {
        account_url: Some(account_url),
        ..ClientConfig::new(DIRECTORY)
    };
    h.restart(config, key);
    h.crash_after_save = false;
    h.deploy = DeployMode::Correct;
    h.events.clear();
    let snapshot = Snapshot::from_json(&json).expect("snapshot");
    assert_eq!(
        snapshot.identifiers(),
        dns(&["crash.example", "crash2.example"]).as_slice()
    );
    let resumed = h.client.start(Command::Resume(snapshot)).expect("resume");
    let cert = issued(h.finish(resumed), &["crash.example", "crash2.example"]);
    assert_eq!(cert.order_url, "https://ca.test/order/0");
    assert_eq!(h.ca.count("new-order"), 1, "no second order");
    assert_eq!(
        h.deploys().len(),
        2,
        "pending challenges were deployed again"
    );
}

#[test]
fn concurrent_orders_share_the_directory_and_the_nonces() {
    let mut h = Harness::new(Knobs::default());
    h.register();
    let a = h
        .client
        .start(Command::Order(OrderRequest::new(dns(&["one.example"]))))
        .expect("a");
    let b = h
        .client
        .start(Command::Order(OrderRequest::new(dns(&["two.example"]))))
        .expect("b");
    h.run();
    issued(h.result(a), &["one.example"]);
    issued(h.result(b), &["two.example"]);
    assert_eq!(h.ca.count("dir"), 1);
    assert_eq!(
        h.ca.count("nonce"),
        1,
        "every later nonce came from a response"
    );
}

#[test]
fn a_minimal_order_makes_the_minimal_requests() {
    let mut h = Harness::new(Knobs::default());
    h.register();
    issued(
        h.order(OrderRequest::new(dns(&["min.example"]))),
        &["min.example"],
    );
    let endpoints: Vec<&str> = h.ca.log.iter().map(|s| s.endpoint.as_str()).collect();
    println!(
        "requests for account + one-name http-01 order: {} {endpoints:?}",
        endpoints.len()
    );
    assert_eq!(
        endpoints,
        [
            "dir",
            "nonce",
            "new-acct",
            "new-order",
            "authz",
            "chall",
            "finalize",
            "cert"
        ]
    );
    assert_eq!(h.client.requests_sent(), 8);
}

#[test]
fn csr_orders_return_no_key() {
    let mut h = registered(Knobs::default());
    let key = PrivateKey::generate(KeyType::P384).expect("key");
    let csr = certsmith_core::build_csr(&dns(&["csr.example"]), &key).expect("csr");
    let request = OrderRequest {
        certificate_key: certsmith_core::CertificateKey::Csr(csr),
        ..OrderRequest::new(dns(&["csr.example"]))
    };
    let Ok(Outcome::Certificate(cert)) = h.order(request) else {
        panic!("issued")
    };
    assert!(cert.private_key_pem.is_none());
    let leaf = split_pem_chain(&cert.chain_pem).expect("chain").remove(0);
    assert!(key_matches_certificate(&key, &leaf).expect("match"));
}

/// With one seed, one account key and the same clock, a run repeats byte for byte: every
/// request (JWS included), every challenge (TLS-ALPN-01 certificates and keys included) and
/// the snapshot (with the certificate key) are the same; another seed gives other keys.
#[test]
fn a_seeded_client_repeats_a_run_byte_for_byte() {
    let account_key = PrivateKey::generate(KeyType::P256).expect("key");
    let run = |seed: [u8; 32]| {
        let mut h = Harness::new(Knobs::default());
        let config = ClientConfig {
            seed: Some(seed),
            ..ClientConfig::new(DIRECTORY)
        };
        h.restart(config, account_key.clone());
        h.register();
        issued(
            h.order(order_with(&["seeded.example"], ChallengeType::TlsAlpn01)),
            &["seeded.example"],
        );
        let requests: Vec<String> = h.requests.iter().map(|r| format!("{r:?}")).collect();
        let saved = h.events.iter().find_map(|e| match e {
            Event::Save(_, s) => Some(s.to_json()),
            _ => None,
        });
        let deployed: Vec<String> = h
            .deploys()
            .iter()
            .map(|task| match &task.solution {
                Solution::TlsAlpn01 {
                    certificate_pem,
                    private_key_pem,
                } => format!("{certificate_pem}{}", private_key_pem.as_str()),
                other => panic!("a TLS-ALPN-01 challenge, not {other:?}"),
            })
            .collect();
        (requests, saved.expect("a snapshot"), deployed)
    };
    let first = run([1; 32]);
    assert_eq!(first, run([1; 32]), "the same seed, the same run");
    let other = run([2; 32]);
    assert_ne!(first.1, other.1, "another seed, another certificate key");
    assert_ne!(
        first.2, other.2,
        "another seed, another TLS-ALPN-01 certificate"
    );
}

#[test]
fn a_host_that_never_reports_on_a_challenge_fails_the_order_at_the_deadline() {
    let mut h = registered(Knobs::default());
    h.deploy = DeployMode::Silent;
    let started = h.now;
    let err = h
        .order(OrderRequest::new(dns(&["silent.example"])))
        .expect_err("no report");
    assert!(
        matches!(&err, Error::ChallengeDeployFailed { identifier, reason }
            if identifier.value == "silent.example" && reason.contains("within 3600 s")),
        "{err}"
    );
    assert_eq!(
        h.now.millis_since(started),
        3_600_000,
        "it waited an hour, then no longer"
    );
    assert_eq!(h.ca.count("chall"), 0, "the CA was never asked to validate");
}

#[test]
fn an_abandoned_order_has_its_pending_authorizations_deactivated() {
    let mut h = registered(Knobs::default());
    let account_url = h.client.account_url().expect("url").to_owned();
    let key = h.client.account_key().clone();
    // An order whose challenges are never published: its authorizations stay pending.
    let snapshot = interrupted_order(&mut h, &["left.example", "right.example"]);

    // The next run gives it up instead.
    let config = ClientConfig {
        account_url: Some(account_url),
        ..ClientConfig::new(DIRECTORY)
    };
    h.restart(config, key);
    let snapshot = Snapshot::from_json(&snapshot).expect("snapshot");
    // Twice: the second time nothing is pending any more.
    for expected in [2, 0] {
        let op = h
            .client
            .start(Command::Abandon(snapshot.clone()))
            .expect("abandon starts");
        match h.finish(op) {
            Ok(Outcome::OrderAbandoned {
                authorizations_deactivated,
            }) => assert_eq!(authorizations_deactivated, expected),
            other => panic!("abandon: {other:?}"),
        }
    }
    assert_eq!(h.ca.count("new-order"), 1, "no order made");
}

#[test]
fn a_request_without_a_response_is_retried_then_fails_naming_its_url() {
    let config = ClientConfig {
        account_url: Some("https://ca.test/acct/1".into()),
        retry: RetryPolicy {
            max_server_retries: 1,
            ..RetryPolicy::default()
        },
        ..ClientConfig::new(DIRECTORY)
    };
    let key = PrivateKey::generate(KeyType::P256).expect("key");
    let mut client = Client::new(config, key);
    let op = client.start(Command::FetchAccount).expect("starts");
    let mut now = Timestamp::from_unix_secs(1_000);
    let refused = || Input::TransportError("connection refused".into());
    // The directory request gets no response, twice: one retry after a backoff, then the
    // operation fails with the transport's reason and the URL.
    let first = client.poll(now).expect("the directory request");
    assert!(matches!(first.action, Action::Send(_)));
    client.handle(now, op, refused()).expect("fits");
    assert!(client.poll(now).is_none(), "nothing before the backoff");
    now = client.next_wakeup().expect("a retry is scheduled");
    let again = client.poll(now).expect("the retry");
    assert!(matches!(again.action, Action::Send(_)));
    client.handle(now, op, refused()).expect("fits");
    let ended = client.poll(now).expect("the end");
    match ended.action {
        Action::Failed(Error::Transport { url, reason }) => {
            assert_eq!(url, DIRECTORY);
            assert_eq!(reason, "connection refused");
        }
        other => panic!("{other:?}"),
    }
    // A report for an operation that has ended does not fit.
    assert!(matches!(
        client.handle(now, op, refused()),
        Err(Error::InvalidState { .. })
    ));
}
