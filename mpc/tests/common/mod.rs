//! The test suite, written once over the ciphersuite (the FROST crates' own style) and instantiated per suite
//! by `suite_tests!`.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::os::unix::fs::PermissionsExt;

use frost_core::Ciphersuite;
use nexus_mpc::batch::{BatchMessage, MerkleError, MerkleTree, receipt_digest};
use nexus_mpc::certificate::{Certificate, CertificateError, OfflineVerifier, ReceiptProof, TrustedKey};
use nexus_mpc::dkg::{Dkg, DkgAction, DkgConfig, DkgError, DkgOutput, Echo};
use nexus_mpc::key_store::{self, KeyStoreError, StoredKey};
use nexus_mpc::signing::{Coordinator, Signer, SigningError, next_signer_set};
use rand_core::OsRng;

pub const N: u16 = 4;
pub const T: u16 = 3;

pub fn config(me: u16) -> DkgConfig {
    DkgConfig { me, participants: (1..=N).collect(), threshold: T, context: [42; 32] }
}

enum Msg {
    Round1(Vec<u8>),
    Echo(Echo),
    Round2(Vec<u8>),
}

/// Delivers messages among DKG machines until none are left; returns each participant's outcome.
fn run_network<C: Ciphersuite>(
    machines: BTreeMap<u16, Dkg<C>>,
    queue: VecDeque<(u16, u16, Msg)>,
) -> BTreeMap<u16, Result<DkgOutput<C>, DkgError>> {
    run_network_with(machines, queue, |_, _| vec![])
}

/// Delivers in a pseudo-random order drawn from `seed` (non-zero).
fn run_network_shuffled<C: Ciphersuite>(
    machines: BTreeMap<u16, Dkg<C>>,
    queue: VecDeque<(u16, u16, Msg)>,
    seed: u64,
) -> BTreeMap<u16, Result<DkgOutput<C>, DkgError>> {
    let mut state = seed;
    run_network_inner(
        machines,
        queue,
        |_, _| vec![],
        move |len| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % len as u64) as usize
        },
    )
}

/// [`run_network`] with a hook that sees (and may change) each machine's actions, and may inject messages,
/// to play a byzantine participant.
fn run_network_with<C: Ciphersuite>(
    machines: BTreeMap<u16, Dkg<C>>,
    queue: VecDeque<(u16, u16, Msg)>,
    hook: impl FnMut(u16, &mut Vec<DkgAction<C>>) -> Vec<(u16, u16, Msg)>,
) -> BTreeMap<u16, Result<DkgOutput<C>, DkgError>> {
    run_network_inner(machines, queue, hook, |_| 0)
}

fn run_network_inner<C: Ciphersuite>(
    mut machines: BTreeMap<u16, Dkg<C>>,
    mut queue: VecDeque<(u16, u16, Msg)>,
    mut hook: impl FnMut(u16, &mut Vec<DkgAction<C>>) -> Vec<(u16, u16, Msg)>,
    mut pick: impl FnMut(usize) -> usize,
) -> BTreeMap<u16, Result<DkgOutput<C>, DkgError>> {
    let mut outcomes = BTreeMap::new();
    while !queue.is_empty() {
        let Some((from, to, msg)) = queue.remove(pick(queue.len())) else { break };
        if outcomes.contains_key(&to) {
            continue;
        }
        let Some(machine) = machines.get_mut(&to) else { continue };
        let result = match msg {
            Msg::Round1(b) => machine.on_round1(from, &b),
            Msg::Echo(e) => machine.on_echo(from, e),
            Msg::Round2(b) => machine.on_round2(from, &b),
        };
        match result {
            Err(e) => {
                outcomes.insert(to, Err(e));
            }
            Ok(mut actions) => {
                queue.extend(hook(to, &mut actions));
                for action in actions {
                    match action {
                        DkgAction::BroadcastEcho(echo) => {
                            for p in (1..=N).filter(|&p| p != to) {
                                queue.push_back((to, p, Msg::Echo(echo.clone())));
                            }
                        }
                        DkgAction::SendRound2 { to: recipient, package } => {
                            queue.push_back((to, recipient, Msg::Round2(package)))
                        }
                        DkgAction::Finished(output) => {
                            outcomes.insert(to, Ok(*output));
                        }
                        DkgAction::Abort(e) => {
                            outcomes.insert(to, Err(e));
                        }
                    }
                }
            }
        }
    }
    outcomes
}

/// A complete 3-of-4 DKG among honest participants.
pub fn run_dkg<C: Ciphersuite>() -> Vec<DkgOutput<C>> {
    let mut machines = BTreeMap::new();
    let mut queue = VecDeque::new();
    for me in 1..=N {
        let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
        for p in (1..=N).filter(|&p| p != me) {
            queue.push_back((me, p, Msg::Round1(round1.clone())));
        }
        machines.insert(me, dkg);
    }
    let outcomes = run_network(machines, queue);
    assert_eq!(outcomes.len(), usize::from(N), "every participant finishes");
    outcomes.into_values().map(|o| o.expect("DKG succeeds")).collect()
}

pub fn dkg_3_of_4_agrees_on_group_key<C: Ciphersuite>() {
    let outputs = run_dkg::<C>();
    let key = outputs[0].group_key().expect("group key");
    for o in &outputs {
        assert_eq!(o.group_key().expect("group key"), key);
        assert_eq!(o.public_key_package, outputs[0].public_key_package);
        assert_eq!(o.public_key_package.min_signers(), Some(T));
        assert_eq!(o.key_package.verifying_key(), o.public_key_package.verifying_key());
    }
    let announced = outputs.iter().map(|o| (o.participant, Some(o.group_key().expect("key")))).collect();
    nexus_mpc::dkg::confirm_group_key(&(1..=N).collect(), &key, &announced).expect("every participant confirms");
    let participants: BTreeSet<_> = outputs.iter().map(|o| o.participant).collect();
    assert_eq!(participants, (1..=N).collect());
}

pub fn dkg_completes_in_any_delivery_order<C: Ciphersuite>() {
    for seed in 1..=16u64 {
        let mut machines = BTreeMap::new();
        let mut queue = VecDeque::new();
        for me in 1..=N {
            let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
            for p in (1..=N).filter(|&p| p != me) {
                queue.push_back((me, p, Msg::Round1(round1.clone())));
            }
            machines.insert(me, dkg);
        }
        let outcomes = run_network_shuffled(machines, queue, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let keys: BTreeSet<_> =
            outcomes.values().map(|o| o.as_ref().expect("DKG succeeds").group_key().expect("key")).collect();
        assert_eq!(outcomes.len(), usize::from(N), "seed {seed}");
        assert_eq!(keys.len(), 1, "seed {seed}: one group key");
    }
}

pub fn dkg_equivocation_fails_echo_check_for_everyone<C: Ciphersuite>() {
    for seed in [0, 1, 2, 3, 0xDEAD_BEEF, 0x9E37_79B9_7F4A_7C15] {
        dkg_equivocation_case::<C>(seed, false);
    }
}

/// The echo covers the X25519 key too: participant 1 sends everyone the same FROST package but gives
/// participant 4 another X25519 key (one whose secret it could hold, to read 4's share for it... or lose it).
pub fn dkg_x25519_key_swap_fails_echo_check<C: Ciphersuite>() {
    for seed in [0, 1, 0xDEAD_BEEF, 0x9E37_79B9_7F4A_7C15] {
        dkg_equivocation_case::<C>(seed, true);
    }
}

/// Participant 1 runs two part-1s and sends one broadcast to 2 and 3, the other to 4 (`key_only`: the second
/// is the first with the X25519 key of the other run); delivery in FIFO order (`seed` 0) or shuffled.
fn dkg_equivocation_case<C: Ciphersuite>(seed: u64, key_only: bool) {
    let mut machines = BTreeMap::new();
    let mut queue = VecDeque::new();
    let (dkg_a, round1_a) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    let (_dkg_b, mut round1_b) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    if key_only {
        let (frost_a, _) = split_round1(&round1_a);
        let (_, key_b) = split_round1(&round1_b);
        round1_b = round1_broadcast(frost_a, &key_b);
        assert_eq!(round1_a[..round1_a.len() - 32], round1_b[..round1_b.len() - 32], "same FROST package");
        assert_ne!(round1_a, round1_b);
    }
    queue.push_back((1, 2, Msg::Round1(round1_a.clone())));
    queue.push_back((1, 3, Msg::Round1(round1_a)));
    queue.push_back((1, 4, Msg::Round1(round1_b)));
    machines.insert(1, dkg_a);
    for me in 2..=N {
        let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
        for p in (1..=N).filter(|&p| p != me) {
            queue.push_back((me, p, Msg::Round1(round1.clone())));
        }
        machines.insert(me, dkg);
    }
    let outcomes = if seed == 0 { run_network(machines, queue) } else { run_network_shuffled(machines, queue, seed) };
    for honest in 2..=N {
        let Some(outcome) = outcomes.get(&honest) else { panic!("seed {seed}: participant {honest} is still waiting") };
        match outcome {
            Err(DkgError::EchoMismatch { equivocators, disagreeing }) => {
                assert_eq!(equivocators, &vec![1], "seed {seed}: participant {honest} names the equivocator");
                assert!(!disagreeing.is_empty());
                let e = outcome.as_ref().expect_err("error");
                assert_eq!(e.culprits(), vec![1]);
                assert!(e.to_string().contains("[1]"), "{e}");
            }
            other => {
                panic!("seed {seed}, participant {honest}: expected an echo mismatch, got {:?}", other.as_ref().err())
            }
        }
    }
}

pub fn dkg_invalid_proof_of_knowledge_names_sender<C: Ciphersuite>() {
    // Participant 2 broadcasts, consistently, a round-1 package whose proof of knowledge is bound to another
    // identifier, and echoes what everyone else echoes: the echo check passes, part 2 names it.
    let mut machines = BTreeMap::new();
    let mut queue = VecDeque::new();
    let (_, forged) = Dkg::<C>::start(config(3), &mut OsRng).expect("start");
    for p in [1, 3, 4] {
        queue.push_back((2, p, Msg::Round1(forged.clone())));
    }
    for me in [1, 3, 4] {
        let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
        for p in (1..=N).filter(|&p| p != me && p != 2) {
            queue.push_back((me, p, Msg::Round1(round1.clone())));
        }
        machines.insert(me, dkg);
    }
    let mut echoed = false;
    let outcomes = run_network_with(machines, queue, |_, actions| {
        let mut extra = vec![];
        for a in actions.iter() {
            if let DkgAction::BroadcastEcho(echo) = a
                && !echoed
            {
                echoed = true;
                extra.extend([1, 3, 4].map(|p| (2, p, Msg::Echo(echo.clone()))));
            }
        }
        extra
    });
    for honest in [1, 3, 4] {
        assert_eq!(outcomes[&honest].as_ref().err(), Some(&DkgError::Culprit(2)), "participant {honest}");
    }
}

/// Splits a round-1 broadcast (this test's own reading of the wire format: u32 big-endian length, FROST
/// package, 32-byte X25519 key) into the FROST package and the key.
pub fn split_round1(broadcast: &[u8]) -> (&[u8], [u8; 32]) {
    let len = u32::from_be_bytes(broadcast[..4].try_into().expect("4 bytes")) as usize;
    assert_eq!(broadcast.len(), 4 + len + 32, "canonical round-1 broadcast");
    (&broadcast[4..4 + len], broadcast[4 + len..].try_into().expect("32 bytes"))
}

/// Builds a round-1 broadcast from a FROST package and an X25519 key.
pub fn round1_broadcast(frost: &[u8], key: &[u8; 32]) -> Vec<u8> {
    let mut out = (frost.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(frost);
    out.extend_from_slice(key);
    out
}

/// Seals a round-2 package as the module docs specify, written independently of the crate: ChaCha20-Poly1305
/// with a zero nonce under HKDF-SHA256(salt = context, IKM = X25519(secret, recipient key), info = tag ‖
/// sender ‖ recipient).
fn seal_round2(
    secret: &x25519_dalek::ReusableSecret,
    recipient_key: [u8; 32],
    sender: u16,
    recipient: u16,
    plaintext: &[u8],
) -> Vec<u8> {
    use chacha20poly1305::aead::Aead;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(recipient_key));
    let info = [b"nexus/mpc/dkg-round2/v1".as_slice(), &sender.to_be_bytes(), &recipient.to_be_bytes()].concat();
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&config(sender).context), shared.as_bytes())
        .expand(&info, &mut key)
        .expect("32-byte key");
    ChaCha20Poly1305::new(&key.into()).encrypt(&Nonce::default(), plaintext).expect("seal")
}

pub fn dkg_wrong_secret_share_names_sender<C: Ciphersuite>() {
    // Participant 2 is played by the test with its own implementation of the wire format. Honest, it must
    // interoperate; lying, it seals for participant 1 (properly, under 1's key) the share it made for 4.
    dkg_test_played_participant_2::<C>(false);
    dkg_test_played_participant_2::<C>(true);
}

fn dkg_test_played_participant_2<C: Ciphersuite>(lie_to_1: bool) {
    use frost_core::keys::dkg as frost_dkg;
    let id = |p: u16| frost_core::Identifier::<C>::try_from(p).expect("id");
    let honest = [1, 3, 4];
    let mut machines = BTreeMap::new();
    let mut queue = VecDeque::new();
    let mut broadcasts = BTreeMap::new();
    for me in honest {
        let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
        for p in (1..=N).filter(|&p| p != me) {
            queue.push_back((me, p, Msg::Round1(round1.clone())));
        }
        broadcasts.insert(me, round1);
        machines.insert(me, dkg);
    }
    // Participant 2: part 1, its X25519 key, its broadcast; part 2 right away (the honest ones hold round-2
    // packages that come before their echo check passes).
    let (secret1, package1) = frost_dkg::part1::<C, _>(id(2), N, T, OsRng).expect("part1");
    let x25519 = x25519_dalek::ReusableSecret::random_from_rng(OsRng);
    let own_key = *x25519_dalek::PublicKey::from(&x25519).as_bytes();
    let round1 = round1_broadcast(&package1.serialize().expect("serialize"), &own_key);
    for p in honest {
        queue.push_back((2, p, Msg::Round1(round1.clone())));
    }
    let others: BTreeMap<_, _> = broadcasts
        .iter()
        .map(|(&p, b)| (id(p), frost_dkg::round1::Package::<C>::deserialize(split_round1(b).0).expect("package")))
        .collect();
    let (_, shares) = frost_dkg::part2(secret1, &others).expect("part2");
    for p in honest {
        let share_of = if lie_to_1 && p == 1 { 4 } else { p };
        let plaintext = shares[&id(share_of)].serialize().expect("serialize");
        let sealed = seal_round2(&x25519, split_round1(&broadcasts[&p]).1, 2, p, &plaintext);
        queue.push_back((2, p, Msg::Round2(sealed)));
    }
    // It echoes what the honest ones echo.
    let mut echoed = false;
    let outcomes = run_network_with(machines, queue, |_, actions| {
        let mut extra = vec![];
        for a in actions.iter() {
            if let DkgAction::BroadcastEcho(echo) = a
                && !echoed
            {
                echoed = true;
                extra.extend(honest.map(|p| (2, p, Msg::Echo(echo.clone()))));
            }
        }
        extra
    });
    assert_eq!(outcomes.len(), honest.len(), "every honest participant is done");
    if !lie_to_1 {
        let keys: BTreeSet<_> =
            outcomes.values().map(|o| o.as_ref().expect("DKG succeeds").group_key().expect("key")).collect();
        assert_eq!(keys.len(), 1, "one group key");
        return;
    }
    assert_eq!(outcomes[&1].as_ref().err(), Some(&DkgError::Culprit(2)));
    // The others finished: the replica must confirm the group key with everyone before adopting it.
    let finished: Vec<_> = outcomes.iter().filter(|(_, o)| o.is_ok()).map(|(&p, _)| p).collect();
    assert_eq!(finished, vec![3, 4]);
    let mut keys: BTreeMap<u16, Option<Vec<u8>>> =
        outcomes.iter().map(|(&p, o)| (p, o.as_ref().ok().map(|o| o.group_key().expect("key")))).collect();
    let mine = keys[&3].clone().expect("3 finished");
    // Participant 2 announces the key the others derived.
    keys.insert(2, Some(mine.clone()));
    assert_eq!(
        nexus_mpc::dkg::confirm_group_key(&(1..=N).collect(), &mine, &keys),
        Err(DkgError::KeyNotConfirmed { missing: vec![1], disagreeing: vec![] })
    );
    let mut lying = keys.clone();
    lying.insert(1, Some(vec![0; mine.len()]));
    lying.remove(&4);
    assert_eq!(
        nexus_mpc::dkg::confirm_group_key(&(1..=N).collect(), &mine, &lying),
        Err(DkgError::KeyNotConfirmed { missing: vec![4], disagreeing: vec![1] })
    );
}

/// Honest DKG machines stopped at round 2.
struct Round2Phase<C: Ciphersuite> {
    machines: BTreeMap<u16, Dkg<C>>,
    /// The sealed round-2 packages, by (sender, recipient), not yet delivered.
    sealed: BTreeMap<(u16, u16), Vec<u8>>,
    /// Echoes held back, as (from, echo).
    held: Vec<(u16, Echo)>,
}

/// Runs a DKG among honest machines up to round 2: every round-1 broadcast and echo is delivered, except the
/// echoes addressed to `hold_echoes_to`, which are held back.
fn dkg_to_round2<C: Ciphersuite>(hold_echoes_to: Option<u16>) -> Round2Phase<C> {
    let mut machines = BTreeMap::new();
    let mut queue = VecDeque::new();
    for me in 1..=N {
        let (dkg, round1) = Dkg::<C>::start(config(me), &mut OsRng).expect("start");
        for p in (1..=N).filter(|&p| p != me) {
            queue.push_back((me, p, Msg::Round1(round1.clone())));
        }
        machines.insert(me, dkg);
    }
    let (mut sealed, mut held) = (BTreeMap::new(), Vec::new());
    while let Some((from, to, msg)) = queue.pop_front() {
        let machine = machines.get_mut(&to).expect("machine");
        let actions = match msg {
            Msg::Round1(b) => machine.on_round1(from, &b),
            Msg::Echo(e) => machine.on_echo(from, e),
            Msg::Round2(_) => unreachable!("round-2 packages are collected, not delivered"),
        }
        .expect("honest input is accepted");
        for action in actions {
            match action {
                DkgAction::BroadcastEcho(echo) => {
                    for p in (1..=N).filter(|&p| p != to) {
                        if Some(p) == hold_echoes_to {
                            held.push((to, echo.clone()));
                        } else {
                            queue.push_back((to, p, Msg::Echo(echo.clone())));
                        }
                    }
                }
                DkgAction::SendRound2 { to: recipient, package } => {
                    assert!(sealed.insert((to, recipient), package).is_none(), "one package per recipient");
                }
                DkgAction::Finished(_) | DkgAction::Abort(_) => panic!("participant {to} is done too early"),
            }
        }
    }
    Round2Phase { machines, sealed, held }
}

pub fn dkg_round2_to_wrong_recipient_fails_to_decrypt<C: Ciphersuite>() {
    // After the echo check: refused at once, and the DKG is aborted.
    let Round2Phase { machines: mut m, sealed, .. } = dkg_to_round2::<C>(None);
    assert_eq!(sealed.len(), usize::from(N * (N - 1)), "every participant passed its echo check");
    let one = m.get_mut(&1).expect("1");
    let err = one.on_round2(2, &sealed[&(2, 4)]).expect_err("sealed for 4");
    assert_eq!(err, DkgError::Undecryptable { from: 2 });
    assert_eq!(err.culprits(), vec![2]);
    assert!(err.to_string().contains("participant 2"), "{err}");
    assert_eq!(one.on_round2(3, &sealed[&(3, 1)]).err(), Some(DkgError::Aborted));
    // A package from 3 claimed by 2.
    let four = m.get_mut(&4).expect("4");
    assert_eq!(four.on_round2(2, &sealed[&(3, 4)]).err(), Some(DkgError::Undecryptable { from: 2 }));
    // Participant 2's own package for 1, reflected back to it as if 1 had sent it: same shared secret, but
    // the key names the direction.
    let two = m.get_mut(&2).expect("2");
    assert_eq!(two.on_round2(1, &sealed[&(2, 1)]).err(), Some(DkgError::Undecryptable { from: 1 }));
    // 3 still finishes with the right packages.
    let three = m.get_mut(&3).expect("3");
    let mut finished = false;
    for from in [1, 2, 4] {
        let actions = three.on_round2(from, &sealed[&(from, 3)]).expect("accepted");
        finished |= actions.iter().any(|a| matches!(a, DkgAction::Finished(_)));
    }
    assert!(finished);

    // Before the echo check: held, then opened when the check passes, and the failure aborts (after the
    // round-2 packages that must still go out).
    let Round2Phase { machines: mut m, sealed, held } = dkg_to_round2::<C>(Some(1));
    assert!(!sealed.keys().any(|(from, _)| *from == 1), "1 has not passed its echo check");
    let one = m.get_mut(&1).expect("1");
    assert!(one.on_round2(2, &sealed[&(2, 4)]).expect("held").is_empty());
    let mut actions = Vec::new();
    for (from, echo) in held {
        actions = one.on_echo(from, echo).expect("echo");
    }
    assert_eq!(actions.iter().filter(|a| matches!(a, DkgAction::SendRound2 { .. })).count(), usize::from(N - 1));
    match actions.last() {
        Some(DkgAction::Abort(e)) => assert_eq!(e, &DkgError::Undecryptable { from: 2 }),
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(one.on_round2(3, &sealed[&(3, 1)]).err(), Some(DkgError::Aborted));
}

pub fn dkg_tampered_round2_is_refused<C: Ciphersuite>() {
    // One fresh run per tampering (each aborts its recipient).
    type Tamper = fn(&mut Vec<u8>);
    let tamperings: [(&str, Tamper); 5] = [
        ("body", |c| c[0] ^= 1),
        ("tag", |c| *c.last_mut().expect("tag") ^= 0x80),
        ("truncated", |c| {
            c.pop();
        }),
        ("extended", |c| c.push(0)),
        ("empty", |c| c.clear()),
    ];
    for (what, tamper) in tamperings {
        let Round2Phase { machines: mut m, sealed, .. } = dkg_to_round2::<C>(None);
        let mut bad = sealed[&(2, 1)].clone();
        tamper(&mut bad);
        let one = m.get_mut(&1).expect("1");
        assert_eq!(one.on_round2(2, &bad).err(), Some(DkgError::Undecryptable { from: 2 }), "{what}");
        assert_eq!(one.on_round2(3, &sealed[&(3, 1)]).err(), Some(DkgError::Aborted), "{what}");
    }
    let Round2Phase { machines: mut m, sealed, .. } = dkg_to_round2::<C>(None);
    // Too large to be a package at all.
    let big = vec![0u8; nexus_mpc::dkg::MAX_ROUND2_BYTES + 1];
    let three = m.get_mut(&3).expect("3");
    assert!(matches!(three.on_round2(1, &big), Err(DkgError::TooLarge { from: 1, .. })));
    // A genuine package again is harmless; a tampered copy after it is a conflict.
    let two = m.get_mut(&2).expect("2");
    let genuine = &sealed[&(1, 2)];
    two.on_round2(1, genuine).expect("genuine");
    two.on_round2(1, genuine).expect("duplicate");
    let mut bad = genuine.clone();
    bad[3] ^= 1;
    assert_eq!(two.on_round2(1, &bad).err(), Some(DkgError::Conflicting { what: "round-2 package", from: 1 }));
}

pub fn dkg_refuses_malformed_round1_broadcast<C: Ciphersuite>() {
    let (_, genuine) = Dkg::<C>::start(config(2), &mut OsRng).expect("start");
    let (frost, key) = split_round1(&genuine);
    let with_len = |len: u32| {
        let mut b = genuine.clone();
        b[..4].copy_from_slice(&len.to_be_bytes());
        b
    };
    // u = 0 and u = 1 are points of small order: no secret in the shared secret.
    let mut u1 = [0u8; 32];
    u1[0] = 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"garbage".to_vec()),
        ("empty", vec![]),
        ("no room for the length", genuine[..3].to_vec()),
        ("key truncated", genuine[..genuine.len() - 1].to_vec()),
        ("no key", genuine[..genuine.len() - 32].to_vec()),
        ("the bare FROST package", frost.to_vec()),
        ("a trailing byte", [genuine.as_slice(), &[0]].concat()),
        ("length one too long", with_len(frost.len() as u32 + 1)),
        ("length one too short", with_len(frost.len() as u32 - 1)),
        ("length huge", with_len(u32::MAX)),
        ("garbage FROST package", round1_broadcast(b"garbage", &key)),
        ("zero X25519 key", round1_broadcast(frost, &[0; 32])),
        ("X25519 key of order 4", round1_broadcast(frost, &u1)),
    ];
    for (what, bytes) in cases {
        let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
        let err = dkg.on_round1(2, &bytes).expect_err(what);
        assert!(matches!(err, DkgError::Malformed { what: "round-1 package", from: 2, .. }), "{what}: {err:?}");
        assert_eq!(err.culprits(), vec![2], "{what}");
        // Fatal: the DKG is aborted.
        assert_eq!(dkg.on_round1(3, &genuine).err(), Some(DkgError::Aborted), "{what}");
    }
    // The genuine one is accepted.
    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    assert!(dkg.on_round1(2, &genuine).expect("accepted").is_empty());
    assert!(genuine.len() <= dkg.config().max_round1_bytes());
}

pub fn dkg_sealed_round2_ends_in_shares_that_sign<C: Ciphersuite, V: OfflineVerifier>() {
    let Round2Phase { machines: mut m, sealed, .. } = dkg_to_round2::<C>(None);
    for package in sealed.values() {
        assert!(package.len() <= nexus_mpc::dkg::MAX_ROUND2_BYTES);
    }
    let distinct: BTreeSet<_> = sealed.values().collect();
    assert_eq!(distinct.len(), sealed.len(), "every package is sealed under its own key");
    let mut outputs = BTreeMap::new();
    for ((from, to), package) in &sealed {
        for action in m.get_mut(to).expect("machine").on_round2(*from, package).expect("opens") {
            match action {
                DkgAction::Finished(output) => {
                    outputs.insert(*to, *output);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let outputs: Vec<_> = outputs.into_values().collect();
    assert_eq!(outputs.len(), usize::from(N));
    let key = outputs[0].group_key().expect("key");
    assert!(outputs.iter().all(|o| o.group_key().expect("key") == key), "equal group keys");
    let b = batch(3, 1);
    for signers in [[1, 2, 3], [2, 3, 4], [1, 3, 4]] {
        let cert = sign_session(&outputs, b.message, &signers.into(), |_| b.message).expect("certificate");
        assert_eq!(cert.group_key, key);
        cert.verify::<V>(None).expect("verifies");
    }
}

pub fn dkg_refuses_bad_peer_input<C: Ciphersuite>() {
    let (mut dkg, own) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    let (_, other) = Dkg::<C>::start(config(2), &mut OsRng).expect("start");
    let (_, other_again) = Dkg::<C>::start(config(2), &mut OsRng).expect("start");
    // Messages that are only rejected, not fatal.
    assert_eq!(dkg.on_round1(9, &other).err(), Some(DkgError::UnknownParticipant(9)));
    assert_eq!(dkg.on_round1(1, &own).err(), Some(DkgError::FromSelf));
    // The same package twice is harmless; a different one is an equivocation named after its sender.
    dkg.on_round1(2, &other).expect("first");
    dkg.on_round1(2, &other).expect("duplicate");
    assert_eq!(dkg.on_round1(2, &other_again).err(), Some(DkgError::Conflicting { what: "round-1 package", from: 2 }));
    assert_eq!(dkg.on_round1(3, &other).err(), Some(DkgError::Aborted));

    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    let huge = vec![0u8; dkg.config().max_round1_bytes() + 1];
    assert!(matches!(dkg.on_round1(3, &huge), Err(DkgError::TooLarge { from: 3, .. })));
    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    assert!(matches!(dkg.on_round1(3, b"garbage"), Err(DkgError::Malformed { from: 3, .. })));
    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    assert!(matches!(dkg.on_round2(3, &[0u8; 4096]), Err(DkgError::TooLarge { from: 3, .. })));
    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    let short = Echo { digests: vec![(1, [0; 32])] };
    assert!(matches!(dkg.on_echo(3, short), Err(DkgError::Malformed { what: "echo", from: 3, .. })));
    // A package made for another threshold.
    let (mut dkg, _) = Dkg::<C>::start(config(1), &mut OsRng).expect("start");
    let (_, t2) = Dkg::<C>::start(DkgConfig { threshold: 2, ..config(2) }, &mut OsRng).expect("start");
    assert!(matches!(dkg.on_round1(2, &t2), Err(DkgError::Malformed { from: 2, .. })));
    // Bad configurations.
    assert!(Dkg::<C>::start(DkgConfig { threshold: 5, ..config(1) }, &mut OsRng).is_err());
    assert!(Dkg::<C>::start(DkgConfig { me: 7, ..config(1) }, &mut OsRng).is_err());
    assert!(Dkg::<C>::start(DkgConfig { participants: [0, 1, 2].into(), ..config(1) }, &mut OsRng).is_err());
}

/// A batch of `count` receipts at log indexes 10.., with its message.
pub struct Batch {
    pub receipts: Vec<(u64, Vec<u8>)>,
    pub tree: MerkleTree,
    pub message: BatchMessage,
}

pub fn batch(count: u64, key_epoch: u64) -> Batch {
    let receipts: Vec<_> = (0..count).map(|i| (10 + i, format!("receipt {i}: ok").into_bytes())).collect();
    let digests: Vec<_> = receipts.iter().map(|(i, r)| receipt_digest(*i, r)).collect();
    let tree = MerkleTree::new(&digests);
    let message = BatchMessage {
        cluster_id: [7; 32],
        chain_id: 0,
        key_epoch,
        first_index: 10,
        last_index: 10 + count - 1,
        receipts_root: tree.root(),
        state_root: [9; 32],
    };
    Batch { receipts, tree, message }
}

/// Runs one signing session among `signers`, each signer using its own message from `own`.
pub fn sign_session<C: Ciphersuite>(
    outputs: &[DkgOutput<C>],
    coordinator_message: BatchMessage,
    signers: &BTreeSet<u16>,
    own: impl Fn(u16) -> BatchMessage,
) -> Result<Certificate, (u16, SigningError)> {
    let mut coordinator =
        Coordinator::new(&outputs[0].public_key_package, coordinator_message, signers).map_err(|e| (0, e))?;
    let mut sessions = BTreeMap::new();
    let mut package = None;
    for &s in signers {
        let out = &outputs[usize::from(s - 1)];
        let (signer, commitments) = Signer::new(&out.key_package, own(s), &mut OsRng).map_err(|e| (s, e))?;
        sessions.insert(s, signer);
        package = coordinator.on_commitments(s, &commitments).map_err(|e| (0, e))?.or(package);
    }
    let package = package.expect("all commitments in");
    for (s, signer) in sessions {
        let share = signer.sign(&package).map_err(|e| (s, e))?;
        coordinator.on_share(s, &share).map_err(|e| (0, e))?;
    }
    coordinator.aggregate().map_err(|e| (0, e))
}

pub fn signing_3_of_4_certifies<C: Ciphersuite, V: OfflineVerifier>() {
    let outputs = run_dkg::<C>();
    let b = batch(5, 1);
    let all: BTreeSet<u16> = (1..=N).collect();
    for attempt in 0..u64::from(N) {
        let signers = next_signer_set(&all, T, &BTreeSet::new(), attempt).expect("set");
        assert_eq!(signers.len(), usize::from(T));
        let cert = sign_session(&outputs, b.message, &signers, |_| b.message).expect("certificate");
        assert_eq!(cert.group_key, outputs[0].group_key().expect("key"));
        assert_eq!(cert.key_epoch, 1);
        let trusted = TrustedKey { group_key: cert.group_key.clone(), key_epoch: 1 };
        cert.verify::<V>(Some(&trusted)).expect("verifies");
        cert.verify::<V>(None).expect("verifies without a trusted key");
        // Every receipt's proof verifies.
        for (pos, (index, receipt)) in b.receipts.iter().enumerate() {
            let proof = ReceiptProof {
                log_index: *index,
                receipt: receipt.clone(),
                path: b.tree.path(pos as u64).expect("path"),
                certificate: cert.clone(),
            };
            proof.verify::<V>(Some(&trusted)).expect("receipt verifies");
        }
    }
}

pub fn signer_refuses_a_message_it_did_not_compute<C: Ciphersuite>() {
    let outputs = run_dkg::<C>();
    let b = batch(3, 1);
    let lie = BatchMessage { state_root: [0xEE; 32], ..b.message };
    let signers: BTreeSet<u16> = [1, 2, 3].into();
    // The coordinator proposes `lie`; signers computed `b.message`.
    let (who, err) = sign_session(&outputs, lie, &signers, |_| b.message).expect_err("refused");
    assert_eq!(who, 1);
    assert_eq!(err, SigningError::MessageMismatch { field: "state_root" });
    let other_range = BatchMessage { last_index: b.message.last_index + 1, ..b.message };
    let (_, err) = sign_session(&outputs, other_range, &signers, |_| b.message).expect_err("refused");
    assert_eq!(err, SigningError::MessageMismatch { field: "last_index" });
    // One signer whose execution differs refuses too, while the others would sign.
    let (who, err) =
        sign_session(&outputs, b.message, &signers, |s| if s == 2 { lie } else { b.message }).expect_err("refused");
    assert_eq!((who, err), (2, SigningError::MessageMismatch { field: "state_root" }));
}

pub fn corrupted_share_is_identified_and_excluded<C: Ciphersuite, V: OfflineVerifier>() {
    let outputs = run_dkg::<C>();
    let b = batch(2, 1);
    let all: BTreeSet<u16> = (1..=N).collect();
    let signers = next_signer_set(&all, T, &BTreeSet::new(), 0).expect("set");
    assert_eq!(signers, [1, 2, 3].into());
    let mut coordinator = Coordinator::new(&outputs[0].public_key_package, b.message, &signers).expect("session");
    let mut sessions = Vec::new();
    let mut package = None;
    for &s in &signers {
        let (signer, commitments) =
            Signer::new(&outputs[usize::from(s - 1)].key_package, b.message, &mut OsRng).expect("signer");
        sessions.push((s, signer));
        package = coordinator.on_commitments(s, &commitments).expect("commitments").or(package);
    }
    // Commitments are all in; now it waits for every share.
    assert_eq!(coordinator.waiting_for(), vec![1, 2, 3]);
    let package = package.expect("package");
    let shares: BTreeMap<u16, Vec<u8>> =
        sessions.into_iter().map(|(s, signer)| (s, signer.sign(&package).expect("share"))).collect();
    // Signer 2 sends a well-formed but wrong share (signer 3's).
    for (&s, share) in &shares {
        let share = if s == 2 { &shares[&3] } else { share };
        coordinator.on_share(s, share).expect("share accepted for aggregation");
    }
    let err = coordinator.aggregate().expect_err("cheater");
    assert_eq!(err, SigningError::Cheaters { culprits: vec![2] });
    // Retry without 2: the next set excludes it and certifies.
    let excluded: BTreeSet<u16> = [2].into();
    let retry = next_signer_set(&all, T, &excluded, 1).expect("retry set");
    assert!(!retry.contains(&2));
    assert_eq!(retry.len(), usize::from(T));
    let cert = sign_session(&outputs, b.message, &retry, |_| b.message).expect("certificate");
    cert.verify::<V>(None).expect("verifies");
    // With two excluded, no set of 3 exists.
    let excluded: BTreeSet<u16> = [2, 4].into();
    assert_eq!(next_signer_set(&all, T, &excluded, 0), Err(SigningError::NotEnoughSigners { available: 2, needed: 3 }));
}

pub fn signing_refuses_bad_input<C: Ciphersuite>() {
    let outputs = run_dkg::<C>();
    let pkp = &outputs[0].public_key_package;
    let b = batch(2, 1);
    let key = |s: u16| &outputs[usize::from(s - 1)].key_package;
    assert_eq!(
        Coordinator::new(pkp, b.message, &[1, 2].into()).err(),
        Some(SigningError::NotEnoughSigners { available: 2, needed: 3 })
    );
    assert!(matches!(Coordinator::new(pkp, b.message, &[1, 2, 9].into()), Err(SigningError::Config(_))));
    let empty = BatchMessage { first_index: 5, last_index: 4, ..b.message };
    assert!(matches!(Coordinator::new(pkp, empty, &[1, 2, 3].into()), Err(SigningError::Config(_))));

    let mut coordinator = Coordinator::new(pkp, b.message, &[1, 2, 3].into()).expect("session");
    let (signer1, c1) = Signer::new(key(1), b.message, &mut OsRng).expect("signer");
    let (_, c1_again) = Signer::new(key(1), b.message, &mut OsRng).expect("signer");
    let (_, c4) = Signer::new(key(4), b.message, &mut OsRng).expect("signer");
    assert_eq!(coordinator.on_commitments(4, &c4), Err(SigningError::NotASigner(4)));
    assert!(matches!(coordinator.on_commitments(2, &[0u8; 4096]), Err(SigningError::TooLarge { from: 2, .. })));
    assert!(matches!(coordinator.on_commitments(2, b"garbage"), Err(SigningError::Malformed { from: 2, .. })));
    assert_eq!(coordinator.on_commitments(1, &c1), Ok(None));
    assert_eq!(coordinator.on_commitments(1, &c1), Ok(None), "a duplicate is harmless");
    assert_eq!(
        coordinator.on_commitments(1, &c1_again),
        Err(SigningError::Conflicting { what: "commitments", from: 1 })
    );
    assert_eq!(coordinator.waiting_for(), vec![2, 3]);
    assert!(matches!(coordinator.on_share(1, &[0u8; 32]), Err(SigningError::NotReady { .. })));
    assert!(matches!(coordinator.aggregate(), Err(SigningError::NotReady { .. })));

    // A signer refuses garbage, and a package that does not carry its commitments as it made them.
    let (signer, _) = Signer::new(key(2), b.message, &mut OsRng).expect("signer");
    assert!(matches!(signer.sign(b"garbage"), Err(SigningError::MalformedPackage(_))));
    let mut other = Coordinator::new(pkp, b.message, &[2, 3, 4].into()).expect("session");
    let mut package = None;
    for s in [2, 3, 4] {
        let (_, c) = Signer::new(key(s), b.message, &mut OsRng).expect("signer");
        package = other.on_commitments(s, &c).expect("commitments").or(package);
    }
    let package = package.expect("package");
    assert_eq!(signer1.sign(&package), Err(SigningError::CommitmentMismatch), "signer 1 is not in it");
    let (signer2, _) = Signer::new(key(2), b.message, &mut OsRng).expect("signer");
    assert_eq!(signer2.sign(&package), Err(SigningError::CommitmentMismatch), "other nonces than its own");
}

pub fn tampered_certificates_fail<C: Ciphersuite, V: OfflineVerifier>() {
    let outputs = run_dkg::<C>();
    let b = batch(4, 1);
    let signers: BTreeSet<u16> = [2, 3, 4].into();
    let cert = sign_session(&outputs, b.message, &signers, |_| b.message).expect("certificate");
    let trusted = TrustedKey { group_key: cert.group_key.clone(), key_epoch: 1 };
    let check = |c: &Certificate| c.verify::<V>(Some(&trusted));
    check(&cert).expect("valid");

    let mut c = cert.clone();
    c.signature[0] ^= 1;
    assert_eq!(check(&c), Err(CertificateError::BadSignature));
    let mut c = cert.clone();
    c.signature.pop();
    assert!(matches!(check(&c), Err(CertificateError::MalformedSignature(_))));

    let tamper: [fn(&mut BatchMessage); 5] = [
        |m| m.cluster_id[0] ^= 1,
        |m| m.first_index -= 1,
        |m| m.last_index += 1,
        |m| m.receipts_root[31] ^= 1,
        |m| m.state_root[5] ^= 1,
    ];
    for t in tamper {
        let mut c = cert.clone();
        t(&mut c.message);
        assert_eq!(check(&c), Err(CertificateError::BadSignature));
    }
    // The message's epoch and the certificate's epoch together: the signature no longer covers it.
    let mut c = cert.clone();
    c.message.key_epoch = 2;
    c.key_epoch = 2;
    assert_eq!(c.verify::<V>(None), Err(CertificateError::BadSignature));
    assert_eq!(check(&c), Err(CertificateError::WrongKeyEpoch { got: 2, trusted: 1 }));
    // Only the certificate's epoch.
    let mut c = cert.clone();
    c.key_epoch = 2;
    assert_eq!(c.verify::<V>(None), Err(CertificateError::EpochMismatch { certificate: 2, message: 1 }));
    // Another group's key.
    let other = run_dkg::<C>();
    let mut c = cert.clone();
    c.group_key = other[0].group_key().expect("key");
    assert_eq!(check(&c), Err(CertificateError::WrongGroupKey));
    assert_eq!(c.verify::<V>(None), Err(CertificateError::BadSignature));
    let mut c = cert.clone();
    c.group_key = vec![0xFF; cert.group_key.len() + 1];
    assert_eq!(c.verify::<V>(None), Err(CertificateError::MalformedGroupKey));
    // The verifier alone, outside the certificate type.
    assert_eq!(V::verify(&cert.group_key, b"other", &cert.signature), Err(CertificateError::BadSignature));
}

pub fn tampered_receipt_proofs_fail<C: Ciphersuite, V: OfflineVerifier>() {
    let outputs = run_dkg::<C>();
    let b = batch(5, 1);
    let signers: BTreeSet<u16> = [1, 3, 4].into();
    let cert = sign_session(&outputs, b.message, &signers, |_| b.message).expect("certificate");
    let proof = ReceiptProof {
        log_index: b.receipts[2].0,
        receipt: b.receipts[2].1.clone(),
        path: b.tree.path(2).expect("path"),
        certificate: cert,
    };
    let check = |p: &ReceiptProof| p.verify::<V>(None);
    check(&proof).expect("valid");

    let mut p = proof.clone();
    p.receipt[0] ^= 1;
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.receipt = b"receipt 2: a different output".to_vec();
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    // Another receipt of the batch presented at this position.
    let mut p = proof.clone();
    p.receipt = b.receipts[3].1.clone();
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.path.siblings[0][0] ^= 1;
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.path.siblings.swap(0, 1);
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.path.leaf_index = 3;
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.path.siblings.pop();
    assert!(matches!(check(&p), Err(CertificateError::BadMerklePath(MerkleError::WrongLength { .. }))));
    let mut p = proof.clone();
    p.path.siblings.push([0; 32]);
    assert!(matches!(check(&p), Err(CertificateError::BadMerklePath(MerkleError::WrongLength { .. }))));
    let mut p = proof.clone();
    p.path.leaf_index = 5;
    assert!(matches!(check(&p), Err(CertificateError::BadMerklePath(MerkleError::IndexOutOfRange { .. }))));
    let mut p = proof.clone();
    p.path.leaf_count = 6;
    assert!(matches!(check(&p), Err(CertificateError::BadMerklePath(MerkleError::TooManyLeaves(6)))));
    // The receipt claimed for another log index: inside the range the digest no longer matches, outside it
    // is refused by range.
    let mut p = proof.clone();
    p.log_index += 1;
    assert_eq!(check(&p), Err(CertificateError::ReceiptMismatch));
    let mut p = proof.clone();
    p.log_index = 100;
    assert_eq!(check(&p), Err(CertificateError::IndexNotInRange { index: 100, first: 10, last: 14 }));
    let mut p = proof.clone();
    p.log_index = 9;
    assert_eq!(check(&p), Err(CertificateError::IndexNotInRange { index: 9, first: 10, last: 14 }));
    // A tampered certificate inside the proof is caught first.
    let mut p = proof.clone();
    p.certificate.message.last_index = 20;
    assert_eq!(check(&p), Err(CertificateError::BadSignature));
}

pub fn key_store_round_trips_and_refuses_bad_files<C: Ciphersuite>() {
    let outputs = run_dkg::<C>();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key-share");
    let stored = StoredKey {
        participant: outputs[1].participant,
        key_epoch: 3,
        key_package: outputs[1].key_package.clone(),
        public_key_package: outputs[1].public_key_package.clone(),
    };
    key_store::save(&path, &stored).expect("save");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(key_store::load::<C>(&path).expect("load"), stored);
    // Saving again replaces the file atomically and leaves no temp file.
    key_store::save(&path, &stored).expect("save again");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);

    let bytes = std::fs::read(&path).expect("read");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(matches!(key_store::load::<C>(&path), Err(KeyStoreError::InsecurePermissions { mode: 0o644, .. })));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert!(matches!(key_store::load::<C>(&path), Err(KeyStoreError::InsecurePermissions { .. })));

    let write = |b: &[u8]| {
        let p = dir.path().join("bad");
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, b).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        key_store::load::<C>(&p)
    };
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let r = write(&bytes[..cut]);
        assert!(matches!(r, Err(KeyStoreError::Truncated { .. })), "cut at {cut}: {r:?}");
    }
    assert!(matches!(write(b"this is not a key file at all"), Err(KeyStoreError::Corrupt { .. })));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    assert!(matches!(write(&flipped), Err(KeyStoreError::Corrupt { .. })));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(write(&longer), Err(KeyStoreError::Corrupt { .. })));
    assert!(matches!(key_store::load::<C>(&dir.path().join("missing")), Err(KeyStoreError::Io { .. })));
}

/// Instantiates the suite for one ciphersuite and its offline verifier:
/// `suite_tests!(module_name, Ciphersuite, OfflineVerifier)`.
#[macro_export]
macro_rules! suite_tests {
    ($name:ident, $suite:ty, $verifier:ty) => {
        mod $name {
            // The suite and verifier types are named at the call site.
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn dkg_3_of_4_agrees_on_group_key() {
                common::dkg_3_of_4_agrees_on_group_key::<$suite>();
            }
            #[test]
            fn dkg_equivocation_fails_echo_check_for_everyone() {
                common::dkg_equivocation_fails_echo_check_for_everyone::<$suite>();
            }
            #[test]
            fn dkg_completes_in_any_delivery_order() {
                common::dkg_completes_in_any_delivery_order::<$suite>();
            }
            #[test]
            fn dkg_invalid_proof_of_knowledge_names_sender() {
                common::dkg_invalid_proof_of_knowledge_names_sender::<$suite>();
            }
            #[test]
            fn dkg_wrong_secret_share_names_sender() {
                common::dkg_wrong_secret_share_names_sender::<$suite>();
            }
            #[test]
            fn dkg_refuses_bad_peer_input() {
                common::dkg_refuses_bad_peer_input::<$suite>();
            }
            #[test]
            fn dkg_x25519_key_swap_fails_echo_check() {
                common::dkg_x25519_key_swap_fails_echo_check::<$suite>();
            }
            #[test]
            fn dkg_round2_to_wrong_recipient_fails_to_decrypt() {
                common::dkg_round2_to_wrong_recipient_fails_to_decrypt::<$suite>();
            }
            #[test]
            fn dkg_tampered_round2_is_refused() {
                common::dkg_tampered_round2_is_refused::<$suite>();
            }
            #[test]
            fn dkg_refuses_malformed_round1_broadcast() {
                common::dkg_refuses_malformed_round1_broadcast::<$suite>();
            }
            #[test]
            fn dkg_sealed_round2_ends_in_shares_that_sign() {
                common::dkg_sealed_round2_ends_in_shares_that_sign::<$suite, $verifier>();
            }
            #[test]
            fn signing_3_of_4_certifies() {
                common::signing_3_of_4_certifies::<$suite, $verifier>();
            }
            #[test]
            fn signer_refuses_a_message_it_did_not_compute() {
                common::signer_refuses_a_message_it_did_not_compute::<$suite>();
            }
            #[test]
            fn corrupted_share_is_identified_and_excluded() {
                common::corrupted_share_is_identified_and_excluded::<$suite, $verifier>();
            }
            #[test]
            fn signing_refuses_bad_input() {
                common::signing_refuses_bad_input::<$suite>();
            }
            #[test]
            fn tampered_certificates_fail() {
                common::tampered_certificates_fail::<$suite, $verifier>();
            }
            #[test]
            fn tampered_receipt_proofs_fail() {
                common::tampered_receipt_proofs_fail::<$suite, $verifier>();
            }
            #[test]
            fn key_store_round_trips_and_refuses_bad_files() {
                common::key_store_round_trips_and_refuses_bad_files::<$suite>();
            }
        }
    };
}
