//! One GraphQL type per model: its object type, Relay connection, filter
//! and order inputs, the single and connection queries, and the create /
//! update / delete mutations.

use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ObjectAccessor, ResolverContext, TypeRef,
};
use async_graphql::Error;
use serde_json::{json, Map, Value};

use super::errors::{bad_field, from_store, not_found};
use super::filters::{self, parse_id};
use super::naming::{camel_case, pascal_case, plural, screaming_snake_case};
use super::values::{key_field, property_type_ref, time_text, to_graphql, to_json, typed_output, TIME};
use crate::db::model_type::{ModelType, PropertyType};
use crate::db::query::{cursor_of, Order, RecordPage};
use crate::db::{Record, Store};

/// The shared `PageInfo` type name.
pub const PAGE_INFO: &str = "PageInfo";

/// How one model appears in GraphQL.
#[derive(Debug)]
pub struct ModelSchema {
    pub model: ModelType,
    /// `CreditCard`.
    pub type_name: String,
    /// `creditCard`.
    pub single_query: String,
    /// `creditCards`.
    pub connection_query: String,
    pub fields: Vec<PropertyField>,
}

#[derive(Debug)]
pub struct PropertyField {
    /// `gatewayId`.
    pub graphql: String,
    /// `gateway_id`.
    pub property: String,
    pub kind: PropertyType,
    /// `GATEWAY_ID`.
    pub order_value: String,
}

impl ModelSchema {
    pub fn new(model: &ModelType) -> ModelSchema {
        let type_name = pascal_case(model.short_name());
        let single_query = camel_case(model.short_name());
        let connection_query = plural(&single_query);
        let fields = model
            .properties
            .iter()
            .map(|p| PropertyField {
                graphql: camel_case(&p.name),
                property: p.name.clone(),
                kind: p.kind,
                order_value: screaming_snake_case(&p.name),
            })
            .collect();
        ModelSchema {
            model: model.clone(),
            type_name,
            single_query,
            connection_query,
            fields,
        }
    }

    pub fn connection_type(&self) -> String {
        format!("{}Connection", self.type_name)
    }
    pub fn edge_type(&self) -> String {
        format!("{}Edge", self.type_name)
    }
    pub fn filter_type(&self) -> String {
        format!("{}Filter", self.type_name)
    }
    pub fn order_type(&self) -> String {
        format!("{}Order", self.type_name)
    }
    pub fn order_field_type(&self) -> String {
        format!("{}OrderField", self.type_name)
    }
    pub fn input_type(&self) -> String {
        format!("{}Input", self.type_name)
    }
    /// Type names this model adds to the schema.
    pub fn type_names(&self) -> Vec<String> {
        vec![
            self.type_name.clone(),
            self.connection_type(),
            self.edge_type(),
            self.filter_type(),
            self.order_type(),
            self.order_field_type(),
            self.input_type(),
        ]
    }
    pub fn mutation_names(&self) -> [String; 3] {
        [
            format!("create{}", self.type_name),
            format!("update{}", self.type_name),
            format!("delete{}", self.type_name),
        ]
    }

    pub fn field_by_graphql(&self, name: &str) -> Option<&PropertyField> {
        self.fields.iter().find(|f| f.graphql == name)
    }

    /// A store property name as the GraphQL field the caller knows.
    pub fn graphql_name_of(&self, property: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.property == property)
            .map_or_else(|| property.to_string(), |f| f.graphql.clone())
    }

    /// The record as the object the field resolvers read.
    pub fn record_value(&self, record: &Record) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 3);
        object.insert("id".into(), Value::String(record.id.to_string()));
        object.insert("createdAt".into(), Value::String(time_text(record.created_at)));
        object.insert("updatedAt".into(), Value::String(time_text(record.updated_at)));
        for field in &self.fields {
            let value = record
                .properties
                .get(&field.property)
                .and_then(|v| typed_output(field.kind, v))
                .unwrap_or(Value::Null);
            object.insert(field.graphql.clone(), value);
        }
        Value::Object(object)
    }

    fn page_value(&self, page: &RecordPage, order: &Order) -> Value {
        let nodes: Vec<Value> = page.records.iter().map(|r| self.record_value(r)).collect();
        let edges: Vec<Value> = page
            .records
            .iter()
            .zip(&nodes)
            .map(|(record, node)| json!({"node": node, "cursor": cursor_of(record, order)}))
            .collect();
        json!({
            "edges": edges,
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": page.has_next_page,
                "hasPreviousPage": page.has_previous_page,
                "startCursor": page.start_cursor,
                "endCursor": page.end_cursor,
            },
            "totalCount": page.total_count,
        })
    }

    fn store_error(&self, error: crate::db::StoreError) -> Error {
        from_store(error, &|property| self.graphql_name_of(property))
    }

    /// Input object -> store properties (snake_case names).
    fn properties_from_input(&self, input: &ObjectAccessor<'_>) -> Result<Map<String, Value>, Error> {
        let mut properties = Map::with_capacity(input.len());
        for (name, value) in input.iter() {
            let field = self
                .field_by_graphql(name.as_str())
                .ok_or_else(|| bad_field(name.as_str(), "is not a property of this model"))?;
            properties.insert(field.property.clone(), to_json(value.as_value()));
        }
        Ok(properties)
    }
}

/// The shared `PageInfo` object.
pub fn page_info_type() -> Object {
    Object::new(PAGE_INFO)
        .field(key_field("hasNextPage", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("hasPreviousPage", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("startCursor", TypeRef::named(TypeRef::STRING)))
        .field(key_field("endCursor", TypeRef::named(TypeRef::STRING)))
}

/// Output and input types of one model.
pub fn types(plan: &ModelSchema) -> (Vec<Object>, Vec<InputObject>, async_graphql::dynamic::Enum) {
    let mut object = Object::new(&plan.type_name)
        .description(format!("A `{}` record.", plan.model.name))
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("createdAt", TypeRef::named_nn(TIME)))
        .field(key_field("updatedAt", TypeRef::named_nn(TIME)));
    let mut input = InputObject::new(plan.input_type())
        .description("Properties to write; on update, only the given ones change (null clears one).");
    for field in &plan.fields {
        object = object.field(key_field(&field.graphql, property_type_ref(field.kind)));
        input = input.field(InputValue::new(&field.graphql, property_type_ref(field.kind)));
    }
    let edge = Object::new(plan.edge_type())
        .field(key_field("node", TypeRef::named_nn(&plan.type_name)))
        .field(key_field("cursor", TypeRef::named_nn(TypeRef::STRING)));
    let connection = Object::new(plan.connection_type())
        .field(key_field("edges", TypeRef::named_nn_list_nn(plan.edge_type())))
        .field(key_field("nodes", TypeRef::named_nn_list_nn(&plan.type_name)))
        .field(key_field("pageInfo", TypeRef::named_nn(PAGE_INFO)))
        .field(key_field("totalCount", TypeRef::named_nn(TypeRef::INT)));
    let (filter, order_field, order) = filters::model_inputs(plan);
    let mut inputs = vec![filter, order];
    // An input object needs at least one field.
    if !plan.fields.is_empty() {
        inputs.push(input);
    }
    (vec![object, edge, connection], inputs, order_field)
}

fn ready<'a>(result: Result<Option<Value>, Error>) -> FieldFuture<'a> {
    FieldFuture::new(futures::future::ready(
        result.map(|v| v.map(|v| FieldValue::value(to_graphql(v)))),
    ))
}

fn id_argument(ctx: &ResolverContext<'_>) -> Result<i64, Error> {
    let value = ctx.args.try_get("id")?;
    parse_id(&value).ok_or_else(|| bad_field("id", "is not a valid record id"))
}

/// `creditCard(id:)` and `creditCards(...)`.
pub fn query_fields(plan: &Arc<ModelSchema>, store: &Store) -> Vec<Field> {
    let single = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(plan.single_query.clone(), TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| match store.get_record(&plan.model, id) {
                Ok(Some(record)) => Ok(Some(plan.record_value(&record))),
                Ok(None) => Err(not_found(format!("{} {id} not found", plan.model.short_name()))),
                Err(e) => Err(plan.store_error(e)),
            });
            ready(result)
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    };
    let connection = {
        let arguments = filters::connection_arguments(plan);
        let (plan, store) = (plan.clone(), store.clone());
        let mut field = Field::new(
            plan.connection_query.clone(),
            TypeRef::named_nn(plan.connection_type()),
            move |ctx| {
                let result = filters::record_query(&plan, &ctx.args).and_then(|query| {
                    store
                        .query_records(&plan.model, &query)
                        .map(|page| Some(plan.page_value(&page, &query.order)))
                        .map_err(|e| plan.store_error(e))
                });
                ready(result)
            },
        );
        for argument in arguments {
            field = field.argument(argument);
        }
        field
    };
    vec![single, connection]
}

/// `createCreditCard`, `updateCreditCard`, `deleteCreditCard`.
pub fn mutation_fields(plan: &Arc<ModelSchema>, store: &Store) -> Vec<Field> {
    let [create_name, update_name, delete_name] = plan.mutation_names();
    let input_argument = || InputValue::new("input", TypeRef::named_nn(plan.input_type()));
    let has_input = !plan.fields.is_empty();

    let mut create = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(create_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = input_properties(&plan, &ctx).and_then(|properties| {
                store
                    .create_record(&plan.model, properties)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
    };
    let mut update = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(update_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| {
                let properties = input_properties(&plan, &ctx)?;
                store
                    .update_record(&plan.model, id, properties)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    };
    if has_input {
        create = create.argument(input_argument());
        update = update.argument(input_argument());
    }
    let delete = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(delete_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| {
                store
                    .delete_record(&plan.model, id)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
        .description("Returns the deleted record.")
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    };
    vec![create, update, delete]
}

fn input_properties(plan: &ModelSchema, ctx: &ResolverContext<'_>) -> Result<Map<String, Value>, Error> {
    match ctx.args.get("input") {
        Some(input) if !input.is_null() => plan.properties_from_input(&input.object()?),
        _ => Ok(Map::new()),
    }
}
