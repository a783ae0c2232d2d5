//! `cargo run -p throughline-viewer`: a local OTLP collector with a trace
//! viewer, for development. Addresses from flags or variables:
//!
//! ```text
//! throughline-viewer [--grpc ADDR] [--http ADDR] [--ui ADDR] [--max-spans N] [--max-mib N]
//!   THROUGHLINE_VIEWER_GRPC_ADDR (127.0.0.1:4317), THROUGHLINE_VIEWER_HTTP_ADDR (127.0.0.1:4318),
//!   THROUGHLINE_VIEWER_UI_ADDR (127.0.0.1:16686)
//! ```

use std::process::ExitCode;

use throughline_viewer::{Addresses, Listeners, StoreConfig, Viewer};

const USAGE: &str =
    "usage: throughline-viewer [--grpc ADDR] [--http ADDR] [--ui ADDR] [--max-spans N] [--max-mib N]";

fn parse(args: &[String]) -> Result<(Addresses, StoreConfig), String> {
    let mut addresses = Addresses::from_vars(|name| std::env::var(name).ok())?;
    let mut config = StoreConfig::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let address = || value.parse().map_err(|e| format!("{flag} {value:?}: {e}"));
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value:?}: {e}"));
        match flag.as_str() {
            "--grpc" => addresses.grpc = address()?,
            "--http" => addresses.http = address()?,
            "--ui" => addresses.ui = address()?,
            "--max-spans" => config = config.max_spans(number()?),
            "--max-mib" => config = config.max_bytes(number()? << 20),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok((addresses, config))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addresses, config) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let listeners = match Listeners::bind(addresses).await {
        Ok(listeners) => listeners,
        Err(error) => {
            eprintln!("throughline-viewer: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listeners.addresses().unwrap_or(addresses);
    println!("throughline-viewer: OTLP gRPC on {}, OTLP HTTP on {}", bound.grpc, bound.http);
    println!("throughline-viewer: UI on http://{}/", bound.ui);
    println!(
        "  export with OTEL_EXPORTER_OTLP_ENDPOINT=http://{} (grpc) or http://{} (http/protobuf)",
        bound.grpc, bound.http
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match Viewer::new(config).serve(listeners, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("throughline-viewer: {error}");
            ExitCode::FAILURE
        }
    }
}
