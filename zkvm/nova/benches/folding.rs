//! Folding benchmark: prints markdown tables (the folding engine section of the root `BENCHMARKS.md`).
//!
//! ```sh
//! cargo bench -p nexus-nova --bench folding            # 2^10 and 2^14-constraint steps
//! NOVA_BENCH_LARGE=1 cargo bench -p nexus-nova --bench folding   # also 2^17, and verify after 2^4 / 2^10 steps
//! ```
//!
//! Thread counts are set with rayon thread pools inside the process (`ThreadPool::install`),
//! which is what `RAYON_NUM_THREADS=1` / `=2` would do for the whole run; every parallel loop of
//! the prover (MSMs, matrix-vector products, the PCD tree's levels) runs in the installed pool.

use std::time::{Duration, Instant};

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::{CanonicalSerialize, Compress};
use nexus_nova::{
    augmented::{self, AugmentedInputs},
    ivc::{IvcProof, PublicParams},
    nifs,
    pcd::{self, NodeInputs, NodeProof},
    step_circuit::{examples::Fibonacci, synthesize_step},
};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool")
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn mib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// Constraints of the step circuit alone (without the `arity` output bindings of the standalone
/// synthesis).
fn step_constraints(c: &Fibonacci) -> usize {
    synthesize_step(c, 0, &[Fr::from(0u64), Fr::from(1u64)]).expect("step").shape.num_constraints - 2
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let large = std::env::var_os("NOVA_BENCH_LARGE").is_some();
    let mut logs = vec![10u32, 14];
    if large {
        logs.push(17);
    }
    let z0 = vec![Fr::from(0u64), Fr::from(1u64)];
    const FOLDS: u64 = 4;

    // Overheads: the circuits around a 1-constraint step.
    let one = Fibonacci { iterations: 1 };
    let aug = augmented::synthesize(&one, &AugmentedInputs::placeholder(2)).expect("augmented").shape;
    let node = pcd::synthesize(&one, &NodeInputs::placeholder(2)).expect("node").shape;
    let (pp_one, _) = timed(|| PublicParams::setup(&one).expect("setup"));
    println!("## Circuit sizes (constraints)\n");
    println!("| circuit | constraints | witness variables |");
    println!("|---|---:|---:|");
    println!(
        "| IVC augmented circuit, overhead (1-constraint step) | {} | {} |",
        aug.num_constraints - 1,
        aug.num_witness
    );
    println!(
        "| PCD node circuit, overhead (1-constraint step) | {} | {} |",
        node.num_constraints - 1,
        node.num_witness
    );
    println!(
        "| CycleFold circuit (one claim; 2 per IVC step, 7 per PCD node) | {} | {} |",
        pp_one.cf_shape.num_constraints, pp_one.cf_shape.num_witness
    );

    println!("\n## IVC (sequential), Fibonacci step circuits\n");
    println!(
        "| step constraints | augmented constraints | setup ms | params file MiB | fold ms, 1 thread | fold ms, 2 threads | speedup | verify ms (after {} steps) |",
        FOLDS + 1
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for log in &logs {
        let c = Fibonacci { iterations: 1 << log };
        let (pp, setup) = timed(|| PublicParams::setup(&c).expect("setup"));
        let file = 52 + pp.serialized_size(Compress::Yes);
        let mut per_fold = Vec::new();
        let mut verify = Duration::ZERO;
        for threads in [1, 2] {
            pool(threads).install(|| {
                let mut p = IvcProof::prove_first(&pp, &c, &z0).expect("prove");
                let (_, t) = timed(|| {
                    for _ in 0..FOLDS {
                        p.prove_step(&pp, &c).expect("step");
                    }
                });
                per_fold.push(t / FOLDS as u32);
                let (r, t) = timed(|| p.verify(&pp, FOLDS + 1, &z0).map(|_| ()));
                r.expect("verify");
                verify = t;
            });
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            step_constraints(&c),
            pp.shape.num_constraints,
            ms(setup),
            mib(file),
            ms(per_fold[0]),
            ms(per_fold[1]),
            per_fold[0].as_secs_f64() / per_fold[1].as_secs_f64(),
            ms(verify)
        );
    }

    if large {
        verify_by_steps(&z0);
    }

    println!("\n## Where a fold's time goes (1 thread)\n");
    println!(
        "| step constraints | circuit | synthesis with matrices ms | prover synthesis (values only) ms | commit W ms | W entries: 0 / 1-bit / ≤64-bit / wide | NIFS fold ms (cross term + commit T) |"
    );
    println!("|---:|---|---:|---:|---:|---|---:|");
    for log in &logs {
        let c = Fibonacci { iterations: 1 << log };
        let pp = PublicParams::setup(&c).expect("setup");
        pool(1).install(|| {
            let mut p = IvcProof::prove_first(&pp, &c, &z0).expect("prove");
            p.prove_step(&pp, &c).expect("step");
            let (_, synth) = timed(|| augmented::synthesize(&c, &AugmentedInputs::placeholder(2)).expect("synthesize"));
            let (_, synth_w) =
                timed(|| augmented::synthesize_witness(&c, &AugmentedInputs::placeholder(2)).expect("synthesize"));
            let w = &p.fresh_w.w;
            let (_, commit) = timed(|| pp.ck.commit(w).expect("commit"));
            let mut classes = [0usize; 4];
            for v in w {
                let bits = v.into_bigint().num_bits();
                classes[match bits {
                    0 => 0,
                    1 => 1,
                    2..=64 => 2,
                    _ => 3,
                }] += 1;
            }
            let (_, fold) = timed(|| {
                nifs::prove_strict(&pp.ck, &pp.shape, pp.digest, (&p.running, &p.running_w), (&p.fresh, &p.fresh_w))
                    .expect("fold")
            });
            println!(
                "| {} | IVC augmented ({}) | {} | {} | {} | {} / {} / {} / {} | {} |",
                step_constraints(&c),
                pp.shape.num_constraints,
                ms(synth),
                ms(synth_w),
                ms(commit),
                classes[0],
                classes[1],
                classes[2],
                classes[3],
                ms(fold)
            );
            let (node, synth) = timed(|| pcd::synthesize(&c, &NodeInputs::placeholder(2)).expect("synthesize"));
            let (_, synth_w) = timed(|| pcd::synthesize_witness(&c, &NodeInputs::placeholder(2)).expect("synthesize"));
            println!(
                "| {} | PCD node ({}) | {} | {} | | | |",
                step_constraints(&c),
                node.shape.num_constraints,
                ms(synth),
                ms(synth_w)
            );
        });
    }

    println!("\n## PCD (tree), Fibonacci step circuits\n");
    const LEAVES: usize = 8;
    println!(
        "| step constraints | node constraints | setup ms | params file MiB | leaf ms | node ms | {LEAVES}-leaf tree ms, 1 thread | 2 threads | speedup | verify root ms | node proof MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for log in &logs[..logs.len().min(2)] {
        let c = Fibonacci { iterations: 1 << log };
        let (pp, setup) = timed(|| pcd::setup(&c).expect("setup"));
        let file = 52 + pp.serialized_size(Compress::Yes);
        let (leaf_t, node_t) = pool(1).install(|| {
            let (l, leaf_t) = timed(|| NodeProof::prove_leaf(&pp, &c, 0, &z0).expect("leaf"));
            let r = NodeProof::prove_leaf(&pp, &c, 1, &l.z_b).expect("leaf");
            let (_, node_t) = timed(|| NodeProof::prove_node(&pp, &c, &l, &r).expect("node"));
            (leaf_t, node_t)
        });
        let circuits = vec![c.clone(); LEAVES];
        let mut tree = Vec::new();
        let mut root = None;
        for threads in [1, 2] {
            let (r, t) = timed(|| pool(threads).install(|| pcd::prove_tree(&pp, &circuits, &z0).expect("tree")));
            tree.push(t);
            root = Some(r);
        }
        let root = root.expect("root");
        let (r, verify) = timed(|| root.verify(&pp, LEAVES as u64, &z0).map(|_| ()));
        r.expect("verify");
        let proof_bytes = root.to_bytes().expect("encode").len();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            step_constraints(&c),
            pp.shape.num_constraints,
            ms(setup),
            mib(file),
            ms(leaf_t),
            ms(node_t),
            ms(tree[0]),
            ms(tree[1]),
            tree[0].as_secs_f64() / tree[1].as_secs_f64(),
            ms(verify),
            mib(proof_bytes)
        );
    }
}

/// The verifier's time after 2^4 and after 2^10 IVC steps of the 2^10-constraint step (proving
/// the 2^10 steps takes a few minutes, hence only in the large run): its work is one hash and
/// three satisfiability checks whatever the number of steps, and this shows it.
fn verify_by_steps(z0: &[Fr]) {
    let c = Fibonacci { iterations: 1 << 10 };
    let pp = PublicParams::setup(&c).expect("setup");
    println!("\n## IVC verifier time by number of steps ({}-constraint step, 2 threads)\n", step_constraints(&c));
    println!("| steps | verify ms | proof MiB |");
    println!("|---:|---:|---:|");
    pool(2).install(|| {
        let mut p = IvcProof::prove_first(&pp, &c, z0).expect("prove");
        for steps in 2..=(1u64 << 10) {
            p.prove_step(&pp, &c).expect("step");
            if steps == 1 << 4 || steps == 1 << 10 {
                let (r, t) = timed(|| p.verify(&pp, steps, z0).map(|_| ()));
                r.expect("verify");
                println!("| {} | {} | {} |", steps, ms(t), mib(p.serialized_size(Compress::Yes)));
            }
        }
    });
}
