//! A filter defined by one function over its input and evaluated
//! arguments, for the many small platformOS filters (`hash_keys`,
//! `array_map`, ...): the argument counts are checked when the template is
//! parsed, and the function's error text becomes a Liquid error naming the
//! filter.

use std::fmt;

use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{Expression, Filter, FilterReflection, ParseFilter, Runtime};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;

/// The evaluated arguments of one call: positional values in order, then
/// `name: value` pairs in order.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub positional: Vec<Value>,
    pub keyword: Vec<(String, Value)>,
}

impl Args {
    /// The `index`th positional value, nil when absent.
    pub(crate) fn at(&self, index: usize) -> &Value {
        const NIL: &Value = &Value::Nil;
        self.positional.get(index).unwrap_or(NIL)
    }
}

pub(crate) type Eval = fn(&dyn ValueView, &Args) -> std::result::Result<Value, String>;

/// Keyword arguments a filter accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Keywords {
    None,
    /// Any names (`hash_merge: a: 1`, `t: name: x`).
    Any,
}

#[derive(Clone)]
pub struct FnFilter {
    name: &'static str,
    description: &'static str,
    positional: (usize, usize),
    keywords: Keywords,
    eval: Eval,
}

impl FnFilter {
    /// `positional` is the (least, most) number of positional arguments.
    pub(crate) const fn new(
        name: &'static str,
        description: &'static str,
        positional: (usize, usize),
        keywords: Keywords,
        eval: Eval,
    ) -> FnFilter {
        FnFilter {
            name,
            description,
            positional,
            keywords,
            eval,
        }
    }
}

/// Keyword arguments one call may pass; more is refused at parse time.
const MAX_KEYWORDS: usize = 64;

impl FilterReflection for FnFilter {
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        self.description
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for FnFilter {
    fn parse(&self, arguments: FilterArguments) -> Result<Box<dyn Filter>> {
        let (least, most) = self.positional;
        let positional: Vec<Expression> = arguments.positional.take(most + 1).collect();
        if positional.len() < least || positional.len() > most {
            let expected = if least == most {
                format!("{least}")
            } else {
                format!("{least} to {most}")
            };
            return Err(filter_error(
                self.name,
                format!("takes {expected} positional arguments, got {}", positional.len()),
            ));
        }
        let keyword: Vec<(String, Expression)> = arguments
            .keyword
            .take(MAX_KEYWORDS + 1)
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        match self.keywords {
            Keywords::None if !keyword.is_empty() => {
                return Err(filter_error(self.name, "takes no name: value arguments"));
            }
            _ if keyword.len() > MAX_KEYWORDS => {
                return Err(filter_error(
                    self.name,
                    format!("takes at most {MAX_KEYWORDS} name: value arguments"),
                ));
            }
            _ => {}
        }
        Ok(Box::new(FnCall {
            name: self.name,
            eval: self.eval,
            positional,
            keyword,
        }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

struct FnCall {
    name: &'static str,
    eval: Eval,
    positional: Vec<Expression>,
    keyword: Vec<(String, Expression)>,
}

impl fmt::Debug for FnCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for FnCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.positional.iter().map(ToString::to_string).collect();
        parts.extend(self.keyword.iter().map(|(name, value)| format!("{name}: {value}")));
        if parts.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}: {}", self.name, parts.join(", "))
        }
    }
}

impl Filter for FnCall {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let mut args = Args::default();
        for expression in &self.positional {
            args.positional.push(expression.evaluate(runtime)?.to_value());
        }
        for (name, expression) in &self.keyword {
            args.keyword
                .push((name.clone(), expression.evaluate(runtime)?.to_value()));
        }
        (self.eval)(input, &args).map_err(|message| filter_error(self.name, message))
    }
}
