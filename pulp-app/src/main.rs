//! `pulp-app`: one binary, one subcommand per process kind.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    /// Fire scheduled syncs (run any number of these).
    Beat,
    /// Manage scheduled syncs.
    Schedule {
        #[command(subcommand)]
        action: ScheduleCmd,
    },
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
enum ScheduleCmd {
    /// Create or replace a schedule that syncs a repository from its remote.
    Add {
        /// Schedule name.
        #[arg(long)]
        name: String,
        /// Repository name.
        #[arg(long)]
        repository: String,
        /// Plugin of the repository.
        #[arg(long, value_parser = ["file", "rpm", "puppet"], default_value = "rpm")]
        plugin: String,
        /// Cron expression (UTC), e.g. "0 0 3 * * *" or "0 3 * * *".
        #[arg(long, group = "when")]
        cron: Option<String>,
        /// Fixed interval in seconds.
        #[arg(long, group = "when")]
        every: Option<u64>,
        /// ISO 8601 repeating interval, e.g. R/2026-01-01T00:00:00Z/PT6H.
        #[arg(long, group = "when")]
        iso8601: Option<String>,
        /// Mirror the remote (remove what it no longer has).
        #[arg(long)]
        mirror: bool,
        /// Disable the schedule after this many consecutive failed syncs.
        #[arg(long)]
        failure_threshold: Option<u32>,
    },
    /// List schedules with their state.
    List,
    /// Delete a schedule.
    Remove {
        /// Schedule name.
        #[arg(long)]
        name: String,
    },
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
        run::Shutdown,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>,
) -> anyhow::Result<()> {
    f(run::Shutdown::on_signals()).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Cmd::Api => {
            let s = services(settings).await?;
            until_signal(|sh| Box::pin(run::api(s, sh.warm))).await
        }
        Cmd::Content => {
            let s = services(settings).await?;
            until_signal(|sh| Box::pin(run::content(s, sh.warm))).await
        }
        Cmd::Worker => {
            let s = services(settings).await?;
            until_signal(|sh| Box::pin(run::worker(s, sh))).await
        }
        Cmd::Beat => {
            let s = services(settings).await?;
            until_signal(|sh| Box::pin(run::beat(s, sh.warm))).await
        }
        Cmd::Schedule { action } => schedule(settings, action).await,
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

async fn schedule(settings: Settings, action: ScheduleCmd) -> anyhow::Result<()> {
    use pulp_app::catalog::model::Plugin;
    use taskq::beat::When;
    let s = services(settings).await?;
    match action {
        ScheduleCmd::Add {
            name,
            repository,
            plugin,
            cron,
            every,
            iso8601,
            mirror,
            failure_threshold,
        } => {
            let when = match (cron, every, iso8601) {
                (Some(c), _, _) => When::cron(c)?,
                (_, Some(secs), _) => When::every(std::time::Duration::from_secs(secs))?,
                (_, _, Some(spec)) => When::iso8601(spec)?,
                _ => anyhow::bail!("give one of --cron, --every or --iso8601"),
            };
            let plugin = match plugin.as_str() {
                "file" => Plugin::File,
                "puppet" => Plugin::Puppet,
                _ => Plugin::Rpm,
            };
            pulp_app::schedules::put_sync_schedule(
                &s,
                &name,
                plugin,
                &repository,
                when,
                mirror,
                failure_threshold,
            )
            .await?;
            println!("schedule {name} saved");
        }
        ScheduleCmd::List => {
            for e in pulp_app::schedules::list(&s).await? {
                let next = e
                    .next_run_ms
                    .and_then(|m| chrono::DateTime::from_timestamp_millis(m as i64))
                    .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
                println!(
                    "{}\tenabled={}\tnext={next}\truns={}\tlast={}\tfailures={}",
                    e.schedule.name,
                    e.schedule.enabled,
                    e.total_runs,
                    e.last_outcome
                        .map_or_else(|| "-".to_owned(), |o| o.to_string()),
                    e.consecutive_failures
                );
            }
        }
        ScheduleCmd::Remove { name } => {
            anyhow::ensure!(
                pulp_app::schedules::delete(&s, &name).await?,
                "no schedule named {name:?}"
            );
            println!("schedule {name} removed");
        }
    }
    Ok(())
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
