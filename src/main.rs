use boxoffice::app::App;
use boxoffice::config::{Cli, Command, Settings};
use boxoffice::{audit, telemetry};
use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a request allocates and frees many small objects across
/// threads, and glibc's allocator took over a fifth of the CPU under load (perf, see
/// BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(settings)) => serve(*settings).await,
        Some(Command::Audit(args)) => audit::run(args).await,
        Some(Command::Healthcheck(args)) => healthcheck(&args.url).await,
        Some(Command::Token(args)) => token(&args),
        Some(Command::StripeSign(args)) => stripe_sign(&args),
        Some(Command::Keygen(args)) => keygen(&args),
    }
}

/// `boxoffice stripe-sign`: the `Stripe-Signature` of the body on standard input.
fn stripe_sign(args: &boxoffice::config::StripeSignArgs) -> ExitCode {
    use std::io::Read;
    let mut body = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut body) {
        eprintln!("stripe-sign: reading standard input: {e}");
        return ExitCode::from(2);
    }
    let now = boxoffice::domain::time::now_ms() / 1000;
    let timestamp = args.timestamp.unwrap_or(now);
    println!(
        "{}",
        boxoffice::domain::stripe::sign(&body, &args.secret, timestamp)
    );
    ExitCode::SUCCESS
}

/// `boxoffice token`: an HS256 token signed with AUTH_JWT_SECRET.
fn keygen(args: &boxoffice::config::KeygenArgs) -> ExitCode {
    let pem = match boxoffice::domain::ticket::TicketKeys::generate_pem() {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("keygen: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(path) = &args.out else {
        print!("{pem}");
        return ExitCode::SUCCESS;
    };
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(pem.as_bytes()));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygen: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn token(args: &boxoffice::config::TokenArgs) -> ExitCode {
    let secret = match args.auth.secret() {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            eprintln!(
                "token: set AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE), the secret replicas verify with"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("token: {e}");
            return ExitCode::from(2);
        }
    };
    if boxoffice::domain::ids::UserId::parse(&args.user).is_err() {
        eprintln!(
            "token: --user must match {}",
            boxoffice::domain::ids::ID_PATTERN
        );
        return ExitCode::from(2);
    }
    match boxoffice::auth::mint(
        &secret,
        &args.user,
        args.role,
        args.ttl,
        args.auth.audience.as_deref(),
        args.auth.issuer.as_deref(),
    ) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("token: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(url: &str) -> ExitCode {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(url).send().await {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("healthcheck: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    if let Err(e) = telemetry::init(settings.log_format, &settings.log_filter) {
        eprintln!("boxoffice: {e}");
        return ExitCode::from(2);
    }
    let instance = settings.instance_id();
    let app = match App::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app.local_addr() {
        Ok(addr) => tracing::info!(%addr, %instance, "listening"),
        Err(e) => tracing::warn!(error = %e, "listening on an unknown address"),
    }
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (docker stop, orchestrators) or Ctrl-C (SIGINT). The handlers are installed here,
/// before the replica serves its first request: a signal that arrives right after start-up is
/// a graceful shutdown too, not the default action (killed). (Installed inside the returned
/// future, they would wait for its first poll, which axum makes in a task of its own, after
/// the server may already have answered.)
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let terminate = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    async fn received(signal: Option<Signal>) {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            () = received(terminate) => {},
            () = received(interrupt) => {},
        }
    }
}
