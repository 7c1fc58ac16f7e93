//! One GraphQL schema, built from the loaded model types and request types,
//! serving `{% graphql %}` in templates (in process) and `POST /api/graphql`
//! for programs ([`http`]).
//!
//! The schema is dynamic (async-graphql `dynamic`) and rebuilt on every
//! reload. Resolvers call the synchronous store directly: callers run the
//! engine on blocking threads (`execute_blocking`, or `web::block` in
//! [`http`]); no tokio runtime is needed inside.

pub mod callers;
pub mod errors;
mod filters;
pub mod limits;
mod model_schema;
mod models;
pub mod naming;
pub mod operator;
mod paging;
mod platformos;
mod request_types;
pub(crate) mod stripe_api;
pub mod stripe_config;
mod values;
mod variables;
mod webhook_events;

/// The engine tests run on both backends: `tests` on SQLite and
/// `tests_postgres::cases` (the same file) on PostgreSQL.
#[cfg(test)]
const BACKEND_IS_POSTGRES: bool = false;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_postgres;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_graphql::dynamic::{Object, Schema};
use serde_json::{Map, Value};

use crate::db::schema::ModelType;
use crate::db::Store;
use crate::error::LoadProblem;
pub use errors::GraphqlErrorInfo;
use models::ModelSchema;
use request_types::{InputField, RequestTypeSchema};
pub use request_types::{RequestSender, RequestTypeInfo};

/// Nesting deeper than this is refused (a connection query needs about 5).
const MAX_DEPTH: usize = 24;

/// Type names the schema defines itself; a model may not take them.
const FIXED_TYPES: &[&str] = &[
    "Query",
    "Mutation",
    // No subscription root is built, so `Subscription` stays free for the
    // `modules/payments/subscription` model.
    "Int",
    "Float",
    "String",
    "Boolean",
    "ID",
    values::TIME,
    values::MAP,
    values::JSON,
    models::PAGE_INFO,
    models::DAY_TOTAL,
    request_types::GATEWAY_ERROR_TYPE,
    filters::ORDER_DIRECTION,
    "StringFilter",
    "IntFilter",
    "FloatFilter",
    "TimeFilter",
    "BooleanFilter",
    "IDFilter",
];

/// The executable schema of one version of the app.
pub struct GraphqlEngine {
    schema: Schema,
}

impl std::fmt::Debug for GraphqlEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlEngine").finish_non_exhaustive()
    }
}

/// Who claimed a generated name, to report clashes with both owners.
struct Claims {
    owners: HashMap<String, (PathBuf, String)>,
    problems: Vec<LoadProblem>,
}

impl Claims {
    fn new() -> Claims {
        let owners = FIXED_TYPES
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    (PathBuf::from("(built in)"), "a built-in type".to_string()),
                )
            })
            .chain(webhook_events::type_names().iter().map(|name| {
                (
                    name.to_string(),
                    (PathBuf::from("(built in)"), "the webhook events query".to_string()),
                )
            }))
            .collect();
        Claims {
            owners,
            problems: Vec::new(),
        }
    }

    /// Is `name` (in namespace `kind`) still free? For platformOS's
    /// query and mutation names, which give way to an app's own.
    fn is_free(&self, kind: &str, name: &str) -> bool {
        !self.owners.contains_key(&format!("{kind}:{name}"))
    }

    /// Claim `name` (in namespace `kind`) for `owner`, or record a problem.
    fn claim(&mut self, kind: &str, name: &str, file: &Path, owner: &str) -> bool {
        // Types share one namespace; query and mutation fields one each.
        let key = if kind == "type" {
            name.to_string()
        } else {
            format!("{kind}:{name}")
        };
        if !naming::is_graphql_name(name) {
            self.problems.push(LoadProblem::new(
                file,
                1,
                format!("{owner} would be named `{name}` in GraphQL, which is not a valid GraphQL name"),
            ));
            return false;
        }
        match self.owners.get(&key) {
            Some((other_file, other_owner)) => {
                self.problems.push(LoadProblem::new(
                    file,
                    1,
                    format!(
                        "{owner} and {other_owner} ({}) both need the GraphQL {kind} `{name}`; rename one of them",
                        other_file.display()
                    ),
                ));
                false
            }
            None => {
                self.owners.insert(key, (file.to_path_buf(), owner.to_string()));
                true
            }
        }
    }
}

impl GraphqlEngine {
    /// Build the schema. Name clashes (two models with one short name, a
    /// model named like a built-in type, ...) are load problems.
    pub fn build(
        models: &[ModelType],
        request_types: &[RequestTypeInfo],
        store: Store,
        sender: Option<RequestSender>,
    ) -> Result<GraphqlEngine, Vec<LoadProblem>> {
        let mut claims = Claims::new();
        let mut model_plans = Vec::with_capacity(models.len());
        for model in models {
            let plan = ModelSchema::new(model);
            let owner = format!("model `{}`", model.name);
            let mut ok = true;
            // The first clashing type name is enough to report.
            for name in plan.type_names() {
                if !claims.claim("type", &name, &model.file, &owner) {
                    ok = false;
                    break;
                }
            }
            if ok {
                ok &= claims.claim("query", &plan.single_query, &model.file, &owner)
                    && claims.claim("query", &plan.connection_query, &model.file, &owner);
                for name in plan.mutation_names() {
                    ok &= claims.claim("mutation", &name, &model.file, &owner);
                }
            }
            ok &= check_properties(&plan, &mut claims.problems);
            if ok {
                model_plans.push(Arc::new(plan));
            }
        }
        let config_operations = sender.as_ref().and_then(|sender| {
            sender.settings.clone().map(|settings| stripe_config::ConfigOperations {
                settings,
                store: store.clone(),
                gateway: sender.gateway.clone(),
                defaults: sender.app.gateway_defaults.get("stripe").cloned().unwrap_or_default(),
            })
        });
        if config_operations.is_some() {
            let built_in = PathBuf::from("(built in)");
            for name in stripe_config::type_names() {
                claims.claim("type", name, &built_in, "the Stripe configuration operations");
            }
            for name in stripe_config::QUERIES {
                claims.claim("query", name, &built_in, "the Stripe configuration operations");
            }
            for name in stripe_config::MUTATIONS {
                claims.claim("mutation", name, &built_in, "the Stripe configuration operations");
            }
        }
        let stripe_api = sender.as_ref().map(|sender| {
            Arc::new(stripe_api::StripeApi {
                store: store.clone(),
                sender: sender.clone(),
            })
        });
        if stripe_api.is_some() {
            let built_in = PathBuf::from("(built in)");
            let owner = "seed 004's Stripe API";
            for name in stripe_api::type_names() {
                claims.claim("type", &name, &built_in, owner);
            }
            for name in stripe_api::QUERIES {
                claims.claim("query", name, &built_in, owner);
            }
            for name in stripe_api::MUTATIONS {
                claims.claim("mutation", name, &built_in, owner);
            }
        }
        {
            let built_in = PathBuf::from("(built in)");
            let owner = "the operator's operations";
            for name in operator::type_names() {
                claims.claim("type", name, &built_in, owner);
            }
            for name in operator::QUERIES {
                claims.claim("query", name, &built_in, owner);
            }
            for name in operator::MUTATIONS {
                claims.claim("mutation", name, &built_in, owner);
            }
        }
        // platformOS's shapes: their types always; each query or mutation
        // unless the app's models already took its name (`records` of a
        // `record` model).
        let platformos_names = {
            let built_in = PathBuf::from("(built in)");
            let owner = "platformOS's GraphQL shapes";
            for name in platformos::type_names() {
                claims.claim("type", name, &built_in, owner);
            }
            let mut free = std::collections::HashSet::new();
            for (kind, names) in [
                ("query", &platformos::QUERIES[..]),
                ("mutation", &platformos::MUTATIONS[..]),
            ] {
                for name in names {
                    if claims.is_free(kind, name) && claims.claim(kind, name, &built_in, owner) {
                        free.insert(*name);
                    }
                }
            }
            free
        };
        claims.claim(
            "query",
            webhook_events::QUERY,
            &PathBuf::from("(built in)"),
            "the webhook events query",
        );

        let mut request_plans = Vec::with_capacity(request_types.len());
        for info in request_types {
            let plan = RequestTypeSchema::new(info);
            let file = PathBuf::from(&info.full_name);
            let owner = format!("request type `{}`", info.full_name);
            let mut ok = claims.claim("type", &plan.payload_type, &file, &owner)
                && claims.claim("mutation", &plan.mutation, &file, &owner);
            if let Some(typed) = &plan.input {
                ok &= claims.claim("type", &typed.type_name, &file, &owner);
                let mut seen = HashMap::new();
                for InputField {
                    graphql, name: snake, ..
                } in &typed.fields
                {
                    if !naming::is_graphql_name(graphql) {
                        claims.problems.push(LoadProblem::new(
                            &file,
                            1,
                            format!(
                                "field `{snake}` would be `{graphql}` in GraphQL, which is not a valid GraphQL name"
                            ),
                        ));
                        ok = false;
                    } else if let Some(other) = seen.insert(graphql.clone(), snake.clone()) {
                        claims.problems.push(LoadProblem::new(
                            &file,
                            1,
                            format!("fields `{other}` and `{snake}` are both `{graphql}` in GraphQL; rename one"),
                        ));
                        ok = false;
                    }
                }
            }
            if ok {
                request_plans.push(Arc::new(plan));
            }
        }
        if !claims.problems.is_empty() {
            return Err(claims.problems);
        }

        let mut query = Object::new("Query");
        let mut mutation = Object::new("Mutation");
        let mut has_mutations = false;
        let mut builder_types: Vec<async_graphql::dynamic::Type> = Vec::new();

        for scalar in values::scalars() {
            builder_types.push(scalar.into());
        }
        let (shared_inputs, direction) = filters::shared_inputs();
        builder_types.extend(shared_inputs.into_iter().map(Into::into));
        builder_types.push(direction.into());
        builder_types.push(models::page_info_type().into());
        builder_types.push(models::day_total_type().into());
        builder_types.push(request_types::gateway_error_type().into());

        let customer_model = models
            .iter()
            .find(|m| m.name == platformos::payments::CUSTOMER_MODEL)
            .map(|m| Arc::new(m.clone()));
        for plan in &model_plans {
            let (mut objects, inputs, order_field) = models::types(plan);
            if let Some(record_type) = objects.first_mut() {
                for field in platformos::payments::record_fields(plan, customer_model.clone(), &store) {
                    *record_type = std::mem::replace(record_type, Object::new(&plan.type_name)).field(field);
                }
            }
            builder_types.extend(objects.into_iter().map(Into::into));
            builder_types.extend(inputs.into_iter().map(Into::into));
            builder_types.push(order_field.into());
            for field in models::query_fields(plan, &store) {
                query = query.field(field);
            }
            if crate::db::schema::is_system_model(&plan.model.name) {
                continue;
            }
            for field in models::mutation_fields(plan, &store) {
                mutation = mutation.field(field);
                has_mutations = true;
            }
        }

        if let Some(ops) = &config_operations {
            builder_types.push(stripe_config::environment_enum().into());
            builder_types.push(stripe_config::mode_enum().into());
            let (objects, inputs) = stripe_config::types();
            builder_types.extend(objects.into_iter().map(Into::into));
            builder_types.extend(inputs.into_iter().map(Into::into));
            for field in stripe_config::query_fields(ops) {
                query = query.field(field);
            }
            for field in stripe_config::mutation_fields(ops) {
                mutation = mutation.field(field);
                has_mutations = true;
            }
        }
        if let Some(api) = &stripe_api {
            builder_types.extend(stripe_api::objects().into_iter().map(Into::into));
            builder_types.extend(stripe_api::inputs().into_iter().map(Into::into));
            for field in stripe_api::query_fields(api) {
                query = query.field(field);
            }
            for field in stripe_api::mutation_fields(api) {
                mutation = mutation.field(field);
                has_mutations = true;
            }
        }
        builder_types.extend(operator::types().into_iter().map(Into::into));
        for field in operator::query_fields(&store) {
            query = query.field(field);
        }
        let deliveries = models
            .iter()
            .find(|m| m.name == operator::DELIVERY_MODEL)
            .map(|m| Arc::new(m.clone()));
        for field in operator::mutation_fields(&store, deliveries) {
            mutation = mutation.field(field);
            has_mutations = true;
        }
        {
            let tables = Arc::new(platformos::Tables::new(
                model_plans.iter().map(|plan| Arc::new(plan.model.clone())).collect(),
                sender.clone(),
                request_plans
                    .iter()
                    .filter(|plan| !plan.info.runtime_only)
                    .map(|plan| plan.info.full_name.clone())
                    .collect(),
            ));
            builder_types.extend(platformos::scalars().into_iter().map(Into::into));
            builder_types.extend(platformos::objects().into_iter().map(Into::into));
            let (inputs, direction) = platformos::inputs();
            builder_types.extend(inputs.into_iter().map(Into::into));
            builder_types.push(direction.into());
            for (name, field) in platformos::query_fields(&tables, &store) {
                if platformos_names.contains(name) {
                    query = query.field(field);
                }
            }
            for (name, field) in platformos::mutation_fields(&tables, &store) {
                if platformos_names.contains(name) {
                    mutation = mutation.field(field);
                    has_mutations = true;
                }
            }
        }
        builder_types.extend(webhook_events::types().into_iter().map(Into::into));
        query = query.field(webhook_events::query_field(&store));

        for plan in request_plans.iter().filter(|p| !p.info.runtime_only) {
            let (payload, input) = request_types::types(plan);
            builder_types.push(payload.into());
            if let Some(input) = input {
                builder_types.push(input.into());
            }
            mutation = mutation.field(request_types::mutation_field(plan, sender.clone()));
            has_mutations = true;
        }

        let mut builder = Schema::build("Query", has_mutations.then_some("Mutation"), None)
            .limit_depth(MAX_DEPTH)
            .limit_complexity(limits::MAX_COMPLEXITY)
            .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
            .extension(errors::ErrorPaths)
            .register(query);
        if has_mutations {
            builder = builder.register(mutation);
        }
        for ty in builder_types {
            builder = builder.register(ty);
        }
        let schema = builder.finish().map_err(|e| {
            vec![LoadProblem::new(
                "schema",
                0,
                format!("the GraphQL schema cannot be built: {e}"),
            )]
        })?;
        Ok(GraphqlEngine { schema })
    }

    /// Run one request; every error carries `extensions.code`.
    pub async fn execute(&self, mut request: async_graphql::Request) -> async_graphql::Response {
        if let Err(refused) = limits::check_request(&mut request) {
            let mut response = async_graphql::Response::from_errors(vec![refused]);
            errors::ensure_codes(&mut response);
            return response;
        }
        let mut response = self.schema.execute(request).await;
        errors::ensure_codes(&mut response);
        response
    }

    /// For templates: run `query` with `variables` (adapted, see
    /// [`variables`]) on this thread; the data, or every error.
    pub fn execute_blocking(&self, query: &str, variables: Map<String, Value>) -> Result<Value, Vec<GraphqlErrorInfo>> {
        self.execute_template(query, variables, false, None, false)
    }

    /// For a page: mutations only when it `may_write` (a CSRF-checked POST);
    /// `operator`: the page is rendered for the signed-in operator, whose
    /// operations ([`operator`]) it may then run.
    pub fn execute_for_page(
        &self,
        query: &str,
        variables: Map<String, Value>,
        may_write: bool,
        operator: bool,
    ) -> Result<Value, Vec<GraphqlErrorInfo>> {
        self.execute_template(query, variables, !may_write, None, operator)
    }

    /// Like [`execute_blocking`](Self::execute_blocking), for a merchant's
    /// webhook processor: records are read and written in `tenant`'s store
    /// and request types sent as `tenant`.
    pub fn execute_blocking_for(
        &self,
        query: &str,
        variables: Map<String, Value>,
        tenant: ForTenant,
    ) -> Result<Value, Vec<GraphqlErrorInfo>> {
        self.execute_template(query, variables, false, Some(tenant), false)
    }

    /// Parses `query` once (kept on the request for the checks and the
    /// engine): for adapting the variables, and for the read-only check.
    fn execute_template(
        &self,
        query: &str,
        variables: Map<String, Value>,
        read_only: bool,
        tenant: Option<ForTenant>,
        operator: bool,
    ) -> Result<Value, Vec<GraphqlErrorInfo>> {
        let mut request = async_graphql::Request::new(query);
        if let Some(tenant) = tenant {
            request = request.data(tenant);
        }
        if operator {
            request = request.data(callers::OperatorSession);
        }
        // The text check comes before any parse; a refusal is reported by
        // `execute` below, like a query that does not parse.
        let variables = match limits::check_text(query)
            .ok()
            .and_then(|()| request.parsed_query().ok())
        {
            Some(document) => {
                let mutates = document
                    .operations
                    .iter()
                    .any(|(_, operation)| operation.node.ty != async_graphql::parser::types::OperationType::Query);
                if read_only && mutates {
                    let error = errors::coded(
                        errors::FORBIDDEN,
                        "a GET page only reads: GraphQL mutations run from forms, webhook processors or POST pages",
                    )
                    .into_server_error(async_graphql::Pos::default());
                    return Err(vec![GraphqlErrorInfo::from_server_error(&error)]);
                }
                variables::adapt(document, variables)
            }
            None => variables,
        };
        let request = request.variables(async_graphql::Variables::from_json(Value::Object(variables)));
        let response = futures::executor::block_on(self.execute(request));
        if response.errors.is_empty() {
            Ok(response.data.into_json().unwrap_or(Value::Null))
        } else {
            Err(response
                .errors
                .iter()
                .map(GraphqlErrorInfo::from_server_error)
                .collect())
        }
    }

    /// The schema in SDL, e.g. for `payforms check` output or docs.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }
}

/// Whose records and keys a request works with when it is not the
/// default merchant's: set only by payforms itself (a merchant's webhook
/// processor), never from an HTTP request.
#[derive(Clone)]
pub struct ForTenant {
    pub store: Store,
    pub tenant: crate::gateway::Tenant,
}

/// The store a resolver works in: the request's merchant's, else the
/// schema's own (the default merchant's).
pub(crate) fn store_for<'a>(ctx: &'a async_graphql::dynamic::ResolverContext<'_>, own: &'a Store) -> &'a Store {
    ctx.data_opt::<ForTenant>().map_or(own, |t| &t.store)
}

/// Property fields: valid GraphQL names, distinct, not `id`/`createdAt`/`updatedAt`.
fn check_properties(plan: &ModelSchema, problems: &mut Vec<LoadProblem>) -> bool {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut ok = true;
    for field in &plan.fields {
        let problem = if !naming::is_graphql_name(&field.graphql) {
            Some(format!(
                "property `{}` would be `{}` in GraphQL, which is not a valid GraphQL name",
                field.property, field.graphql
            ))
        } else if ["id", "createdAt", "updatedAt", "livemode", "merchant"].contains(&field.graphql.as_str()) {
            Some(format!(
                "property `{}` would be `{}` in GraphQL, which every record already has",
                field.property, field.graphql
            ))
        } else {
            seen.insert(&field.graphql, &field.property).map(|other| {
                format!(
                    "properties `{other}` and `{}` are both `{}` in GraphQL; rename one",
                    field.property, field.graphql
                )
            })
        };
        if let Some(message) = problem {
            problems.push(LoadProblem::new(&plan.model.file, 1, message));
            ok = false;
        }
    }
    ok
}
