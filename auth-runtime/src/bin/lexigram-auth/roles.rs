//! `roles explain ROLE`: a role's effective permissions and where each
//! comes from.

use std::collections::{BTreeMap, VecDeque};

use clap::Subcommand;
use lexigram_auth::authz::{Grant, RoleDefinition};

use crate::Global;
use crate::exit::{CliError, Outcome};
use crate::load;

#[derive(Debug, Subcommand)]
pub(crate) enum RolesCommand {
    /// Lists a role's effective permissions, each with the role that grants
    /// it: the role itself (direct) or an ancestor through the `inherits`
    /// chain shown. Exit 1 for an unknown role.
    Explain {
        /// The role.
        role: String,
    },
    /// Lists the defined roles.
    List,
}

pub(crate) fn run(global: &Global, command: &RolesCommand) -> Result<Outcome, CliError> {
    let checked = load::checked(global)?;
    let config = &checked.config;
    // The same compilation the application does: cycles and unknown
    // parents are configuration errors.
    let authz = config.authorization_service()?;
    let graph = authz.graph();
    match command {
        RolesCommand::List => {
            for name in graph.role_names() {
                match config
                    .roles
                    .get(name)
                    .and_then(|d| d.description.as_deref())
                {
                    Some(description) => println!("{name}\t{description}"),
                    None => println!("{name}"),
                }
            }
            Ok(Outcome::Success)
        }
        RolesCommand::Explain { role } => {
            if !graph.has_role(role) {
                let error = unknown_role(role, graph.role_names());
                println!("{}", error.message);
                return Ok(Outcome::Negative);
            }
            explain(role, &config.roles, &config.permissions);
            Ok(Outcome::Success)
        }
    }
}

/// Each role `role` implies (itself included) with the shortest `inherits`
/// chain from `role` to it, in breadth-first order.
fn chains(role: &str, roles: &BTreeMap<String, RoleDefinition>) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut queue = VecDeque::from([vec![role.to_owned()]]);
    while let Some(chain) = queue.pop_front() {
        let Some(last) = chain.last() else { continue };
        if found.iter().any(|(r, _)| r == last) {
            continue;
        }
        if let Some(definition) = roles.get(last) {
            for parent in &definition.inherits {
                let mut next = chain.clone();
                next.push(parent.clone());
                queue.push_back(next);
            }
        }
        found.push((last.clone(), chain));
    }
    found
}

fn explain(role: &str, roles: &BTreeMap<String, RoleDefinition>, catalog: &[String]) {
    // grant -> [(source role, chain)]
    let mut sources: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
    let implied = chains(role, roles);
    for (source, chain) in &implied {
        let Some(definition) = roles.get(source) else {
            continue;
        };
        let how = if chain.len() == 1 {
            "direct".to_owned()
        } else {
            format!("inherited: {}", chain.join(" -> "))
        };
        for grant in &definition.permissions {
            sources
                .entry(grant.as_str())
                .or_default()
                .push((source.as_str(), how.clone()));
        }
    }
    let inherits: Vec<&str> = implied.iter().skip(1).map(|(r, _)| r.as_str()).collect();
    println!("role: {role}");
    if let Some(description) = roles.get(role).and_then(|d| d.description.as_deref()) {
        println!("description: {description}");
    }
    if inherits.is_empty() {
        println!("inherits: nothing");
    } else {
        println!("inherits: {}", inherits.join(", "));
    }
    println!(
        "effective permissions: {}",
        if sources.is_empty() {
            "none".to_owned()
        } else {
            sources.len().to_string()
        }
    );
    let width = sources.keys().map(|g| g.len()).max().unwrap_or(0);
    for (grant, from) in &sources {
        let origin: Vec<String> = from
            .iter()
            .map(|(source, how)| format!("from {source} ({how})"))
            .collect();
        println!("  {grant:<width$}  {}", origin.join("; "));
        if let Ok(parsed) = grant.parse::<Grant>()
            && parsed.is_pattern()
        {
            let covered: Vec<&str> = catalog
                .iter()
                .map(String::as_str)
                .filter(|p| parsed.matches(p))
                .collect();
            let what = if *grant == "*" {
                "every permission".to_owned()
            } else {
                format!("every permission matching `{grant}`")
            };
            if covered.is_empty() {
                println!("  {:width$}  {what}", "");
            } else {
                println!("  {:width$}  {what}; declared: {}", "", covered.join(", "));
            }
        }
    }
}

/// An unknown role, with the closest defined names.
pub(crate) fn unknown_role(role: &str, known: &[String]) -> CliError {
    let close = suggestions(role, known);
    let mut message = format!("unknown role `{role}`");
    if close.is_empty() {
        if known.is_empty() {
            message.push_str("; the configuration defines no roles");
        } else {
            message.push_str(&format!("; the roles are: {}", known.join(", ")));
        }
    } else {
        message.push_str(&format!("; did you mean `{}`?", close.join("`, `")));
    }
    CliError::refused(message)
}

/// Names within a small edit distance of `name` (or sharing its prefix).
fn suggestions<'a>(name: &str, known: &'a [String]) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (edit_distance(name, k), k.as_str()))
        .filter(|(d, k)| *d <= limit || (name.len() >= 3 && k.starts_with(name)))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            let insert = current[j] + 1;
            let delete = previous[j + 1] + 1;
            current[j + 1] = substitute.min(insert).min(delete);
        }
        previous = current;
    }
    previous[b.len()]
}
