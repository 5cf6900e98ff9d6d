//! Generates the list of schema migrations from `sql/migrations/NNNN_name.sql`, so adding a
//! migration is adding a file; and the same list of the cluster variant under `sql/cluster/`.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut out = migration_list(
        &manifest.join("../sql/migrations"),
        "MIGRATIONS",
        "sql/migrations/",
    );
    // The cluster variant (sql/cluster/, written by sql/cluster/generate.py): same versions.
    out.push_str(&migration_list(
        &manifest.join("../sql/cluster"),
        "CLUSTER_MIGRATIONS",
        "sql/cluster/",
    ));
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("migrations.rs");
    fs::write(dest, out).unwrap_or_else(|e| panic!("cannot write migrations.rs: {e}"));
}

fn migration_list(dir: &std::path::Path, name: &str, shown: &str) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut out = format!("/// Every migration under `{shown}`, in order: (version, name, SQL).\npub const {name}: &[(u32, &str, &str)] = &[\n");
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let version: u32 = stem
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                panic!("migration file {stem} must start with a number, like 0001_name.sql")
            });
        let abs = fs::canonicalize(&path).unwrap_or(path);
        out.push_str(&format!(
            "    ({version}, {stem:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    out
}
