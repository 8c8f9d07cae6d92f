//! Generating the task type from the function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::attr::{Priority, TaskArgs};

/// Entry point: on error, emit the original item plus the error, so that the
/// function still exists for the IDE and the rest of the crate.
#[allow(clippy::needless_pass_by_value)] // proc-macro entry points take their streams by value
pub(crate) fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    let out = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => match syn::parse2::<TaskArgs>(args).and_then(|a| expand(&a, &func)) {
            Ok(ts) => ts,
            Err(e) => {
                let err = e.into_compile_error();
                quote! { #item #err }
            }
        },
        Err(e) => {
            let err = e.into_compile_error();
            quote! { #item #err }
        }
    };
    if std::env::var_os("TASKQ_MACROS_DEBUG").is_some() {
        eprintln!("{out}");
    }
    out
}

/// How the function takes its context.
enum ContextParam {
    /// No context parameter.
    None,
    /// `TaskContext` / `TaskContext<()>`: works on any worker.
    Stateless { by_ref: bool },
    /// `TaskContext<S>`: only on workers whose state is `S`.
    WithState { state: Box<Type>, by_ref: bool },
}

fn expand(args: &TaskArgs, func: &ItemFn) -> syn::Result<TokenStream> {
    let sig = &func.sig;
    let Some(name) = args.name.clone() else {
        return Err(syn::Error::new(
            Span::call_site(),
            "missing `name`: every task needs a stable wire name, e.g. #[task(name = \"rpm.sync\")]",
        ));
    };
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "#[task] requires an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a task cannot be generic: its argument and output types go on the wire",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(v, "a task cannot be variadic"));
    }
    let output = output_type(&sig.output)?;

    let mut inputs = sig.inputs.iter().peekable();
    let mut context = ContextParam::None;
    if let Some(FnArg::Typed(first)) = inputs.peek()
        && let Some(c) = context_param(&first.ty)
    {
        context = c;
        inputs.next();
    }
    let mut arg_types = Vec::new();
    for input in inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new_spanned(
                    r,
                    "a task is a free function: it cannot take `self`",
                ));
            }
            FnArg::Typed(pt) => {
                if let Some(c) = context_param(&pt.ty) {
                    let _ = c;
                    return Err(syn::Error::new_spanned(
                        &pt.ty,
                        "the `TaskContext` parameter must come first",
                    ));
                }
                reject_borrowed(&pt.ty)?;
                if let Pat::Ident(p) = &*pt.pat
                    && p.by_ref.is_some()
                {
                    return Err(syn::Error::new_spanned(
                        p,
                        "task arguments cannot be bound by reference",
                    ));
                }
                arg_types.push((*pt.ty).clone());
            }
        }
    }

    let krate = args
        .krate
        .clone()
        .map(|p| quote!(#p))
        .unwrap_or_else(|| quote!(::taskq));
    let p = quote!(#krate::__private);
    let vis = &func.vis;
    let fn_name = &sig.ident;
    let arg_names: Vec<_> = (0..arg_types.len())
        .map(|i| format_ident!("__arg{}", i))
        .collect();
    let options = options(args, &p);
    let doc = format!(
        "The `{}` task (see the function of the same name).",
        name.value()
    );

    let ctx_ident = format_ident!("__ctx");
    let (handler_impl_head, ctx_expr) = match &context {
        ContextParam::None => (
            quote!(impl<__S: ::core::marker::Send + ::core::marker::Sync + 'static> #p::Handler<__S>),
            None,
        ),
        ContextParam::Stateless { by_ref } => {
            let e = if *by_ref {
                quote!(&#ctx_ident.erase_state())
            } else {
                quote!(#ctx_ident.erase_state())
            };
            (
                quote!(impl<__S: ::core::marker::Send + ::core::marker::Sync + 'static> #p::Handler<__S>),
                Some(e),
            )
        }
        ContextParam::WithState { state, by_ref } => {
            let e = if *by_ref {
                quote!(&#ctx_ident)
            } else {
                quote!(#ctx_ident)
            };
            (quote!(impl #p::Handler<#state>), Some(e))
        }
    };
    let state_ty = match &context {
        ContextParam::WithState { state, .. } => quote!(#state),
        _ => quote!(__S),
    };
    let call_args = match &ctx_expr {
        Some(e) => quote!(#e, #(#arg_names),*),
        None => quote!(#(#arg_names),*),
    };
    let run_body = quote_spanned! {fn_name.span()=>
        let (#(#arg_names,)*) = args;
        async move {
            #fn_name(#call_args)
                .await
                .map_err(::core::convert::Into::<#p::TaskError>::into)
        }
    };
    let uses_ctx = ctx_expr.is_some();
    let ctx_binding = if uses_ctx {
        quote!(#ctx_ident)
    } else {
        quote!(_)
    };

    Ok(quote! {
        #func

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #fn_name {}

        impl #fn_name {
            /// A call of this task with these arguments, to send with a `taskq::Client`.
            #[allow(clippy::too_many_arguments)]
            #vis fn call(#(#arg_names: #arg_types),*) -> #p::Signature<#fn_name> {
                #p::Signature::new((#(#arg_names,)*))
            }
        }

        impl #p::Task for #fn_name {
            const NAME: &'static str = #name;
            const OPTIONS: #p::TaskOptions = #options;
            type Args = (#(#arg_types,)*);
            type Output = #output;
        }

        #handler_impl_head for #fn_name {
            #[allow(clippy::useless_conversion)]
            fn run(
                #ctx_binding: #p::TaskContext<#state_ty>,
                args: <Self as #p::Task>::Args,
            ) -> impl #p::Future<Output = #p::Result<<Self as #p::Task>::Output, #p::TaskError>> + ::core::marker::Send {
                #run_body
            }
        }
    })
}

fn options(args: &TaskArgs, p: &TokenStream) -> TokenStream {
    let mut o = quote!(#p::TaskOptions::new());
    if let Some(q) = &args.queue {
        o = quote!(#o.queue(#q));
    }
    if let Some((prio, span)) = args.priority {
        let v = match prio {
            Priority::High => quote_spanned!(span=> #p::Priority::High),
            Priority::Normal => quote_spanned!(span=> #p::Priority::Normal),
            Priority::Low => quote_spanned!(span=> #p::Priority::Low),
        };
        o = quote!(#o.priority(#v));
    }
    if let Some(n) = args.max_retries {
        o = quote!(#o.max_retries(#n));
    }
    let ms = |v: u64| quote!(#p::Duration::from_millis(#v));
    if let Some(v) = args.retry_delay {
        let d = ms(v);
        o = quote!(#o.retry_delay(#d));
    }
    if let Some(v) = args.retry_delay_max {
        let d = ms(v);
        o = quote!(#o.retry_delay_max(#d));
    }
    if let Some(j) = args.retry_jitter {
        o = quote!(#o.retry_jitter(#j));
    }
    if let Some(v) = args.soft_time_limit {
        let d = ms(v);
        o = quote!(#o.soft_time_limit(#d));
    }
    if let Some(v) = args.time_limit {
        let d = ms(v);
        o = quote!(#o.time_limit(#d));
    }
    if let Some(v) = args.expires {
        let d = ms(v);
        o = quote!(#o.expires(#d));
    }
    if let Some(v) = args.result_ttl {
        let d = ms(v);
        o = quote!(#o.result_ttl(#d));
    }
    if let Some(fail) = args.on_worker_lost_fail {
        let v = if fail {
            quote!(#p::OnWorkerLost::Fail)
        } else {
            quote!(#p::OnWorkerLost::Requeue)
        };
        o = quote!(#o.on_worker_lost(#v));
    }
    if let Some((count, window_ms)) = args.rate_limit {
        o = quote!(#o.rate_limit(#p::RateLimit::new(#count, #p::Duration::from_millis(#window_ms))));
    }
    o
}

/// `Result<T, E>` → `T`.
fn output_type(ret: &ReturnType) -> syn::Result<Type> {
    let err = |span: Span| {
        syn::Error::new(
            span,
            "a task must return `Result<T, E>` where `E` converts into `taskq::TaskError`",
        )
    };
    let ReturnType::Type(_, ty) = ret else {
        return Err(err(ret.span()));
    };
    if let Type::Path(tp) = &**ty
        && let Some(last) = tp.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(ab) = &last.arguments
        && let Some(GenericArgument::Type(t)) = ab.args.first()
    {
        return Ok(t.clone());
    }
    Err(err(ty.span()))
}

/// Recognises `TaskContext`, `TaskContext<S>`, `&TaskContext<S>` (any path
/// ending in `TaskContext`).
fn context_param(ty: &Type) -> Option<ContextParam> {
    let (ty, by_ref) = match ty {
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    let Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    if last.ident != "TaskContext" {
        return None;
    }
    match &last.arguments {
        PathArguments::None => Some(ContextParam::Stateless { by_ref }),
        PathArguments::AngleBracketed(ab) => match ab.args.first() {
            Some(GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty() => {
                Some(ContextParam::Stateless { by_ref })
            }
            Some(GenericArgument::Type(t)) => Some(ContextParam::WithState {
                state: Box::new(t.clone()),
                by_ref,
            }),
            _ => Some(ContextParam::Stateless { by_ref }),
        },
        PathArguments::Parenthesized(_) => None,
    }
}

/// Task arguments are deserialized, so they must own their data.
fn reject_borrowed(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(r) => Err(syn::Error::new_spanned(
            r,
            "task arguments must be owned types (they are deserialized from the message): \
             use `String` instead of `&str`, `Vec<T>` instead of `&[T]`",
        )),
        Type::Tuple(t) => t.elems.iter().try_for_each(reject_borrowed),
        Type::Array(a) => reject_borrowed(&a.elem),
        Type::Slice(s) => Err(syn::Error::new_spanned(
            s,
            "task arguments must be sized, owned types",
        )),
        Type::ImplTrait(i) => Err(syn::Error::new_spanned(
            i,
            "task arguments must be concrete types",
        )),
        _ => Ok(()),
    }
}
