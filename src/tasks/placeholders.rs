//! Command templates: `./sim --alpha {alpha} --seed {1}`, filled once per task.
//!
//! `{}` is the whole row (the index of an `--array`), `{#}` the task's position in the
//! definition (1, 2, ...), `{1}`, `{2}`, ... the row's fields, `{name}` a column (or JSON key)
//! by name. Values go in as single shell words, quoted where they need it (as GNU parallel
//! does), so an argument holding a space or a `;` cannot split or end the command. Braces that
//! are not a placeholder stay as they are: `${HOME}`, `{a,b}`, `awk '{print $1}'`. Pure.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// `{}`
    Whole,
    /// `{#}`
    Seq,
    /// `{1}`, `{2}`, ... (1-based)
    Field(usize),
    /// `{name}`
    Named(String),
}

/// A parsed command (or task name) template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What one task fills a template with.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The task's position in the definition, from 1.
    pub seq: u64,
    /// What `{}` stands for: one or more values, each one shell word.
    pub whole: &'a [String],
    pub fields: &'a [String],
    pub named: &'a [(String, String)],
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Parses a template; anything that is not a placeholder is text.
pub fn parse_template(text: &str) -> Template {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after_dollar = rest[..open].ends_with('$');
        lit.push_str(&rest[..open]);
        let tail = &rest[open + 1..];
        let inner = tail.find('}').map(|close| &tail[..close]);
        let piece = match inner {
            _ if after_dollar => None,
            Some("") => Some(Piece::Whole),
            Some("#") => Some(Piece::Seq),
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse().ok().filter(|n| *n > 0).map(Piece::Field)
            }
            Some(n) if is_name(n) => Some(Piece::Named(n.to_string())),
            _ => None,
        };
        match (piece, inner) {
            (Some(p), Some(inner)) => {
                if !lit.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut lit)));
                }
                pieces.push(p);
                rest = &tail[inner.len() + 1..];
            }
            _ => {
                lit.push('{');
                rest = tail;
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Text(lit));
    }
    Template { pieces }
}

/// Words typed after `--` as one command: each word one shell word (quoted where it needs
/// it), its placeholders left as they are so each is filled with one quoted word. One word
/// is taken as the whole command, as typed (`-- './sim --seed {} | tee out'`).
pub fn join_words(words: &[String]) -> String {
    if let [one] = words {
        return one.clone();
    }
    let quote = |t: &str| {
        shlex::try_quote(t)
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| t.to_string())
    };
    let joined: Vec<String> = words
        .iter()
        .map(|w| {
            let t = parse_template(w);
            if !t.has_placeholders() {
                return quote(w);
            }
            t.pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(text) => quote(text),
                    Piece::Whole => "{}".to_string(),
                    Piece::Seq => "{#}".to_string(),
                    Piece::Field(n) => format!("{{{n}}}"),
                    Piece::Named(n) => format!("{{{n}}}"),
                })
                .collect()
        })
        .collect();
    joined.join(" ")
}

impl Template {
    /// The template has at least one placeholder.
    pub fn has_placeholders(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Text(_)))
    }

    /// Fills the template; with `quote`, every value is one shell word. The error says which
    /// placeholder has no value and what there is.
    pub fn fill(&self, v: &Values<'_>, quote: bool) -> Result<String, String> {
        let word = |s: &str| -> Result<String, String> {
            if !quote {
                return Ok(s.to_string());
            }
            shlex::try_quote(s)
                .map(|q| q.into_owned())
                .map_err(|_| format!("the value {s:?} holds a NUL byte"))
        };
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Seq => out.push_str(&v.seq.to_string()),
                Piece::Whole => {
                    let words: Result<Vec<String>, String> =
                        v.whole.iter().map(|w| word(w)).collect();
                    out.push_str(&words?.join(" "));
                }
                Piece::Field(n) => match v.fields.get(n - 1) {
                    Some(f) => out.push_str(&word(f)?),
                    None if v.fields.is_empty() && v.named.is_empty() => {
                        return Err(format!(
                            "`{{{n}}}` has no value: there are no numbered fields here; use `{{}}`"
                        ))
                    }
                    None if v.fields.is_empty() => {
                        return Err(format!(
                            "`{{{n}}}` has no value: there are no numbered fields here; use `{{}}` or one of {}",
                            columns(v.named)
                        ))
                    }
                    None => {
                        return Err(format!(
                            "`{{{n}}}` has no value: the row has {} field{}",
                            v.fields.len(),
                            if v.fields.len() == 1 { "" } else { "s" }
                        ))
                    }
                },
                Piece::Named(name) => match v.named.iter().find(|(k, _)| k == name) {
                    Some((_, value)) => out.push_str(&word(value)?),
                    None if v.named.is_empty() => {
                        let numbered = if v.fields.is_empty() { "" } else { ", `{1}`, `{2}`, ..." };
                        return Err(format!(
                            "`{{{name}}}` has no value: there are no named columns here (a .csv or .tsv with a header, or a .jsonl, has them); use `{{}}` or `{{#}}`{numbered}"
                        ));
                    }
                    None => {
                        return Err(format!(
                            "`{{{name}}}` has no value: the columns are {}",
                            columns(v.named)
                        ))
                    }
                },
            }
        }
        Ok(out)
    }
}

/// The named placeholders a row offers: `` `{alpha}`, `{beta}` ``.
fn columns(named: &[(String, String)]) -> String {
    let names: Vec<String> = named.iter().map(|(k, _)| format!("`{{{k}}}`")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(t: &str, whole: &[&str], fields: &[&str], named: &[(&str, &str)]) -> String {
        let whole: Vec<String> = whole.iter().map(|s| s.to_string()).collect();
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        let named: Vec<(String, String)> = named
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let v = Values {
            seq: 4,
            whole: &whole,
            fields: &fields,
            named: &named,
        };
        parse_template(t).fill(&v, true).unwrap_or_else(|e| e)
    }

    #[test]
    fn placeholders_are_filled_with_quoted_words() {
        assert_eq!(fill("./sim {} #{#}", &["7"], &[], &[]), "./sim 7 #4");
        assert_eq!(
            fill("echo {2} {1}", &["a b"], &["a", "b c"], &[]),
            "echo 'b c' a"
        );
        assert_eq!(
            fill(
                "run --x {alpha} {label}",
                &[],
                &[],
                &[("alpha", "0.5"), ("label", "a;rm -rf ~")]
            ),
            "run --x 0.5 'a;rm -rf ~'"
        );
        assert_eq!(
            fill("echo {}", &["1", "two words"], &[], &[]),
            "echo 1 'two words'"
        );
    }

    #[test]
    fn words_after_the_double_dash_keep_their_placeholders_outside_quotes() {
        let words: Vec<String> = ["./sim", "--label={name}!", "a b", "{}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let cmd = join_words(&words);
        assert_eq!(cmd, "./sim '--label='{name}'!' 'a b' {}");
        let filled = fill(&cmd, &["x y"], &[], &[("name", "n;1")]);
        assert_eq!(filled, "./sim '--label=''n;1''!' 'a b' 'x y'");
        // The shell sees four words, the value in one of them.
        let words = shlex::split(&filled).unwrap();
        assert_eq!(words, ["./sim", "--label=n;1!", "a b", "x y"]);
    }

    #[test]
    fn braces_that_are_not_placeholders_stay() {
        let t = "echo ${HOME} {a,b} {1..3} && awk '{print $1}' {0}";
        assert_eq!(fill(t, &[], &[], &[]), t);
        assert!(!parse_template(t).has_placeholders());
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_that_names_what_there_is() {
        assert_eq!(
            fill("x {3}", &[], &["a", "b"], &[]),
            "`{3}` has no value: the row has 2 fields"
        );
        assert_eq!(
            fill("x {beta}", &[], &["1"], &[("alpha", "1"), ("gamma", "2")]),
            "`{beta}` has no value: the columns are `{alpha}`, `{gamma}`"
        );
        assert!(fill("x {beta}", &["1"], &[], &[]).contains("no named columns here"));
        assert!(fill("x {1}", &["1"], &[], &[]).contains("no numbered fields"));
    }
}
