//! Parsing `#[task(...)]` arguments into [`TaskArgs`].

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, MetaNameValue, Path, Token};

/// A validated `#[task(...)]` argument list.
#[derive(Default)]
pub(crate) struct TaskArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) queue: Option<LitStr>,
    pub(crate) priority: Option<(Priority, Span)>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_delay: Option<u64>,
    pub(crate) retry_delay_max: Option<u64>,
    pub(crate) retry_jitter: Option<bool>,
    pub(crate) soft_time_limit: Option<u64>,
    pub(crate) time_limit: Option<u64>,
    pub(crate) expires: Option<u64>,
    pub(crate) result_ttl: Option<u64>,
    pub(crate) on_worker_lost_fail: Option<bool>,
    /// (starts per window, window in ms)
    pub(crate) rate_limit: Option<(u32, u64)>,
    pub(crate) krate: Option<Path>,
}

#[derive(Clone, Copy)]
pub(crate) enum Priority {
    High,
    Normal,
    Low,
}

const KEYS: &str = "`name`, `queue`, `priority`, `max_retries`, `retry_delay`, `retry_delay_max`, \
`retry_jitter`, `soft_time_limit`, `time_limit`, `expires`, `result_ttl`, `on_worker_lost`, \
`rate_limit`, `crate`";

impl Parse for TaskArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated(input)?;
        let mut args = TaskArgs::default();
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match errors.as_mut() {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        for pair in pairs {
            if let Err(e) = args.set(&pair) {
                push(e);
            }
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }
}

impl TaskArgs {
    fn set(&mut self, pair: &MetaNameValue) -> syn::Result<()> {
        let key = match (pair.path.leading_colon, pair.path.segments.len()) {
            (None, 1) => pair.path.segments[0].ident.to_string(),
            _ => String::new(),
        };
        let dup = |set: bool| -> syn::Result<()> {
            if set {
                Err(syn::Error::new_spanned(
                    &pair.path,
                    format!("`{key}` set more than once"),
                ))
            } else {
                Ok(())
            }
        };
        match key.as_str() {
            "name" => {
                dup(self.name.is_some())?;
                let s = lit_str(&pair.value)?;
                let v = s.value();
                if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '\n') {
                    return Err(syn::Error::new_spanned(
                        &pair.value,
                        "a task name must be non-empty and contain no whitespace, e.g. \"rpm.sync\"",
                    ));
                }
                self.name = Some(s);
            }
            "queue" => {
                dup(self.queue.is_some())?;
                let s = lit_str(&pair.value)?;
                if s.value().is_empty() {
                    return Err(syn::Error::new_spanned(
                        &pair.value,
                        "a queue name must not be empty",
                    ));
                }
                self.queue = Some(s);
            }
            "priority" => {
                dup(self.priority.is_some())?;
                let s = lit_str(&pair.value)?;
                let p = match s.value().as_str() {
                    "high" => Priority::High,
                    "normal" => Priority::Normal,
                    "low" => Priority::Low,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &pair.value,
                            "priority must be \"high\", \"normal\" or \"low\"",
                        ));
                    }
                };
                self.priority = Some((p, s.span()));
            }
            "max_retries" => {
                dup(self.max_retries.is_some())?;
                self.max_retries = Some(lit_int(&pair.value)?);
            }
            "retry_delay" => {
                dup(self.retry_delay.is_some())?;
                self.retry_delay = Some(duration_ms(&pair.value)?);
            }
            "retry_delay_max" => {
                dup(self.retry_delay_max.is_some())?;
                self.retry_delay_max = Some(duration_ms(&pair.value)?);
            }
            "retry_jitter" => {
                dup(self.retry_jitter.is_some())?;
                self.retry_jitter = Some(lit_bool(&pair.value)?);
            }
            "soft_time_limit" => {
                dup(self.soft_time_limit.is_some())?;
                self.soft_time_limit = Some(duration_ms(&pair.value)?);
            }
            "time_limit" => {
                dup(self.time_limit.is_some())?;
                self.time_limit = Some(duration_ms(&pair.value)?);
            }
            "expires" => {
                dup(self.expires.is_some())?;
                self.expires = Some(duration_ms(&pair.value)?);
            }
            "result_ttl" => {
                dup(self.result_ttl.is_some())?;
                self.result_ttl = Some(duration_ms(&pair.value)?);
            }
            "on_worker_lost" => {
                dup(self.on_worker_lost_fail.is_some())?;
                let s = lit_str(&pair.value)?;
                self.on_worker_lost_fail = Some(match s.value().as_str() {
                    "requeue" => false,
                    "fail" => true,
                    _ => {
                        return Err(syn::Error::new_spanned(
                            &pair.value,
                            "on_worker_lost must be \"requeue\" or \"fail\"",
                        ));
                    }
                });
            }
            "rate_limit" => {
                dup(self.rate_limit.is_some())?;
                self.rate_limit = Some(rate_limit(&pair.value)?);
            }
            "crate" => {
                dup(self.krate.is_some())?;
                let s = lit_str(&pair.value)?;
                self.krate = Some(s.parse()?);
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &pair.path,
                    format!("unknown option `{key}`; expected one of: {KEYS}"),
                ));
            }
        }
        Ok(())
    }
}

fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn lit_str(expr: &Expr) -> syn::Result<LitStr> {
    match lit(expr) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => Err(syn::Error::new_spanned(expr, "expected a string literal")),
    }
}

fn lit_int(expr: &Expr) -> syn::Result<u32> {
    match lit(expr) {
        Some(Lit::Int(i)) => i.base10_parse(),
        _ => Err(syn::Error::new_spanned(expr, "expected an integer literal")),
    }
}

fn lit_bool(expr: &Expr) -> syn::Result<bool> {
    match lit(expr) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(expr, "expected `true` or `false`")),
    }
}

/// Parses `"100/s"`, `"30/m"` or `"1000/h"` into (count, window in ms).
fn rate_limit(expr: &Expr) -> syn::Result<(u32, u64)> {
    let bad = || {
        syn::Error::new_spanned(
            expr,
            "expected a rate limit such as \"100/s\", \"30/m\" or \"1000/h\" (at least 1 per window)",
        )
    };
    let s = lit_str(expr)?.value();
    let (count, unit) = s.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    if count == 0 {
        return Err(bad());
    }
    let window = match unit.trim() {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    Ok((count, window))
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"` or an integer number
/// of seconds into milliseconds.
fn duration_ms(expr: &Expr) -> syn::Result<u64> {
    let bad = || {
        syn::Error::new_spanned(
            expr,
            "expected a duration such as \"250ms\", \"30s\", \"5m\", \"2h\" or \"1d\"",
        )
    };
    match lit(expr) {
        Some(Lit::Int(i)) => i.base10_parse::<u64>().map(|s| s * 1000),
        Some(Lit::Str(s)) => {
            let v = s.value();
            let v = v.trim();
            let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let (num, unit) = v.split_at(split);
            let n: u64 = num.parse().map_err(|_| bad())?;
            let factor = match unit.trim() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            n.checked_mul(factor).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}
