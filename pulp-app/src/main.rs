//! `pulp-app`: one binary, one subcommand per process kind.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use pulp_app::config::Settings;
use pulp_app::run;
use pulp_app::services::Services;

/// A software repository manager in the spirit of Pulp.
#[derive(Debug, Parser)]
#[command(name = "pulp-app", version)]
struct Cli {
    /// Settings file (TOML); PULP_* environment variables override it.
    #[arg(long, global = true, env = "PULP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the REST API.
    Api,
    /// Serve published content.
    Content,
    /// Run tasks (syncs, publishes, ...).
    Worker,
    /// Everything in one process, with a private redis-server when no Redis
    /// URL is configured.
    Dev,
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user (or reset its password).
    Create {
        /// User name.
        #[arg(long)]
        username: String,
        /// Password; read from standard input when absent.
        #[arg(long)]
        password: Option<String>,
    },
}

fn telemetry() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("pulp_app=info,taskq=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

async fn services(settings: Settings) -> anyhow::Result<std::sync::Arc<Services>> {
    Services::start(settings).await.context("cannot start")
}

async fn until_signal(
    f: impl FnOnce(
        CancellationToken,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>,
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        taskq::worker::shutdown_signal().await;
        s.cancel();
    });
    f(stop).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Cmd::Api => {
            let s = services(settings).await?;
            until_signal(|stop| Box::pin(run::api(s, stop))).await
        }
        Cmd::Content => {
            let s = services(settings).await?;
            until_signal(|stop| Box::pin(run::content(s, stop))).await
        }
        Cmd::Worker => {
            let s = services(settings).await?;
            until_signal(|stop| Box::pin(run::worker(s, stop))).await
        }
        Cmd::Dev => run::dev(settings).await,
        Cmd::User {
            action: UserCmd::Create { username, password },
        } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            anyhow::ensure!(!password.is_empty(), "the password must not be empty");
            let s = services(settings).await?;
            s.catalog.set_user(&username, &password).await?;
            println!("user {username} saved");
            Ok(())
        }
        Cmd::Openapi => {
            let doc = pulp_app::api::openapi::document(&pulp_app::api::routes::all());
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
