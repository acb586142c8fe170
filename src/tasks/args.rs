//! `--args FILE`: the argument rows a command template is filled from, one task per row.
//!
//! Four forms, chosen by the file name: plain lines (blank lines and `#` comments skipped; a
//! row's words are `{1}`, `{2}`, ...), `.csv` and `.tsv` with a header line (columns by name,
//! `{alpha}`, and by position; CSV fields may be quoted as RFC 4180 says), and `.jsonl` (one
//! JSON object per line; keys by name). Parsing is pure; errors name the file, the line and
//! what was expected.

use anyhow::bail;

/// The form of an arguments file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsFormat {
    Lines,
    Csv,
    Tsv,
    JsonLines,
}

impl ArgsFormat {
    pub fn for_path(path: &std::path::Path) -> ArgsFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => ArgsFormat::Csv,
            Some("tsv") | Some("tab") => ArgsFormat::Tsv,
            Some("jsonl") | Some("ndjson") => ArgsFormat::JsonLines,
            _ => ArgsFormat::Lines,
        }
    }
}

/// One row of arguments: one task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Where it is in the file (for errors).
    pub line: usize,
    /// What `{}` stands for: the values of the row, each one shell word.
    pub whole: Vec<String>,
    /// `{1}`, `{2}`, ...
    pub fields: Vec<String>,
    /// `{name}`: by column name (CSV, TSV) or key (JSONL).
    pub named: Vec<(String, String)>,
}

/// Parses an arguments file's text; `origin` names it in errors.
pub fn parse_args(text: &str, format: ArgsFormat, origin: &str) -> anyhow::Result<Vec<Row>> {
    match format {
        ArgsFormat::Lines => Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(n, l)| Row {
                line: n + 1,
                whole: vec![l.trim().to_string()],
                fields: l.split_whitespace().map(String::from).collect(),
                named: Vec::new(),
            })
            .collect()),
        ArgsFormat::Csv => with_header(parse_delimited(text, ',', true, origin)?, origin),
        ArgsFormat::Tsv => with_header(parse_delimited(text, '\t', false, origin)?, origin),
        ArgsFormat::JsonLines => parse_json_rows(text, origin),
    }
}

/// Records of a delimited text, with the line each starts on; blank lines skipped. With
/// `quotes`, a field that starts with `"` runs to the next lone `"` (`""` is a quote), line
/// breaks included.
fn parse_delimited(
    text: &str,
    delim: char,
    quotes: bool,
    origin: &str,
) -> anyhow::Result<Vec<(usize, Vec<String>)>> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = vec![String::new()];
        let mut quoted_any = false;
        while let Some(c) = chars.next() {
            let field = fields.last_mut().expect("a field");
            match c {
                '"' if quotes && field.is_empty() => {
                    quoted_any = true;
                    loop {
                        match chars.next() {
                            None => bail!(
                                "invalid arguments file `{origin}` line {start}: a quoted field is not closed; close it with `\"` (write `\"\"` for a quote inside it)"
                            ),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    if !matches!(chars.peek(), None | Some('\n') | Some('\r'))
                        && chars.peek() != Some(&delim)
                    {
                        bail!(
                            "invalid arguments file `{origin}` line {line}: text after a closing quote; quote the whole field"
                        );
                    }
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    break;
                }
                c if c == delim => fields.push(String::new()),
                c => field.push(c),
            }
        }
        let blank = !quoted_any && fields.len() == 1 && fields[0].trim().is_empty();
        if !blank {
            records.push((start, fields));
        }
    }
    Ok(records)
}

/// Rows of a delimited file whose first record names the columns.
fn with_header(records: Vec<(usize, Vec<String>)>, origin: &str) -> anyhow::Result<Vec<Row>> {
    let mut it = records.into_iter();
    let Some((_, header)) = it.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    for (i, h) in header.iter().enumerate() {
        if h.is_empty() {
            bail!(
                "invalid arguments file `{origin}` line 1: column {} has no name; the first line names the columns",
                i + 1
            );
        }
        if header[..i].contains(h) {
            bail!("invalid arguments file `{origin}` line 1: column `{h}` is named twice");
        }
    }
    it.map(|(line, fields)| {
        if fields.len() != header.len() {
            bail!(
                "invalid arguments file `{origin}` line {line}: {} fields, but the header names {}",
                fields.len(),
                header.len()
            );
        }
        Ok(Row {
            line,
            whole: fields.clone(),
            named: header.iter().cloned().zip(fields.iter().cloned()).collect(),
            fields,
        })
    })
    .collect()
}

fn parse_json_rows(text: &str, origin: &str) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(l)
            .map_err(|e| {
                anyhow::anyhow!(
                    "invalid arguments file `{origin}` line {}: {e}; expected an object like {{\"alpha\": 0.1, \"label\": \"a\"}}",
                    n + 1
                )
            })?;
        let named = object
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        rows.push(Row {
            line: n + 1,
            whole: vec![l.to_string()],
            fields: Vec::new(),
            named,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_words_and_skip_comments() {
        let rows = parse_args("# seeds\n1 a\n\n2  b\n", ArgsFormat::Lines, "a.txt").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].fields, ["2", "b"]);
        assert_eq!(rows[1].whole, ["2  b"]);
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn csv_with_quotes_commas_and_line_breaks() {
        let text = "alpha,label,note\r\n0.1,a,\"x, y\"\n0.2,\"b \"\"q\"\"\",\"two\nlines\"\n\n";
        let rows = parse_args(text, ArgsFormat::Csv, "p.csv").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].fields, ["0.1", "a", "x, y"]);
        assert_eq!(
            rows[1].named[1],
            ("label".to_string(), "b \"q\"".to_string())
        );
        assert_eq!(rows[1].fields[2], "two\nlines");
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn tsv_and_jsonl() {
        let rows = parse_args("a\tb\n1\t2 3\n", ArgsFormat::Tsv, "p.tsv").unwrap();
        assert_eq!(
            rows[0].named,
            [("a".into(), "1".into()), ("b".into(), "2 3".into())]
        );
        let rows = parse_args(
            "{\"n\": 3, \"s\": \"x y\"}\n",
            ArgsFormat::JsonLines,
            "p.jsonl",
        )
        .unwrap();
        assert_eq!(
            rows[0].named,
            [("n".into(), "3".into()), ("s".into(), "x y".into())]
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse_args("a,b\n1\n", ArgsFormat::Csv, "p.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid arguments file `p.csv` line 2: 1 fields, but the header names 2"
        );
        let e = parse_args("a,b\n\"1,2\n", ArgsFormat::Csv, "p.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: a quoted field is not closed"),
            "{e}"
        );
        let e = parse_args("a,a\n", ArgsFormat::Csv, "p.csv").unwrap_err();
        assert!(e.to_string().contains("column `a` is named twice"), "{e}");
        let e = parse_args("[1]\n", ArgsFormat::JsonLines, "p.jsonl").unwrap_err();
        assert!(e.to_string().contains("line 1") && e.to_string().contains("expected an object"));
    }
}
