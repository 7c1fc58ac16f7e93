//! Who a GraphQL request comes from, as payforms itself marks it (never
//! from the request's own data): a program with an API key, or a page
//! rendered for the signed-in operator. Resolvers that only some callers
//! may run read these.

/// Marks a request made by a program with an API key (`POST /api/graphql`);
/// `admin` for an admin key, the only kind that may see or change the
/// gateway configuration.
#[derive(Debug, Clone, Copy)]
pub struct ApiCaller {
    pub admin: bool,
}

/// Marks a GraphQL request a page makes for the signed-in operator.
#[derive(Debug, Clone, Copy)]
pub struct OperatorSession;
