//! The demo without the CLI: `cargo run -p changeover-engine --example demo -- BIN_DIR`
//! (BIN_DIR holds sample-scheduler and sample-dataservice, e.g. target/debug).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin_dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| changeover_engine::demo::exe_dir().join(".."));
    let bundles = ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| {
            let name = format!("{v}.yaml");
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../bundles/sample")
                .join(&name);
            Ok((name, std::fs::read(path)?))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let work_dir = std::env::temp_dir().join(format!("changeover-demo-{}", std::process::id()));
    changeover_engine::demo::run(changeover_engine::demo::DemoOptions {
        bin_dir: std::path::absolute(bin_dir)?,
        work_dir,
        bundles,
    })
    .await
    .map_err(anyhow::Error::msg)
}
