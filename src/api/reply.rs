//! A response built on a blocking thread. actix's `HttpResponse` is not
//! `Send`, so rendering code returns a [`Reply`] and the handler converts it.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::Value;

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub cookies: Vec<Cookie<'static>>,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn new(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            cookies: Vec::new(),
            content_type: "text/plain; charset=utf-8".into(),
            body: String::new(),
        }
    }

    pub fn html(status: StatusCode, body: String) -> Reply {
        Reply {
            content_type: "text/html; charset=utf-8".into(),
            body,
            ..Reply::new(status)
        }
    }

    pub fn json(status: StatusCode, value: &Value) -> Reply {
        Reply {
            content_type: "application/json".into(),
            body: value.to_string(),
            ..Reply::new(status)
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn cookie(mut self, cookie: Cookie<'static>) -> Reply {
        self.cookies.push(cookie);
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in self.headers {
            builder.insert_header((name, value));
        }
        for cookie in self.cookies {
            builder.cookie(cookie);
        }
        builder.content_type(self.content_type).body(self.body)
    }
}
