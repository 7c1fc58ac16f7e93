//! The names one model takes in GraphQL (types, queries, mutations, input
//! fields), decided once per schema build.

use super::naming::{camel_case, pascal_case, plural, screaming_snake_case};
use serde_json::{json, Map, Value};

use async_graphql::dynamic::ObjectAccessor;
use async_graphql::Error;

use super::errors::{bad_field, from_store};
use super::values::{time_text, to_json, typed_output};
use crate::db::query::{cursor_of, RecordPage, RecordQuery, DEFAULT_PAGE_SIZE};
use crate::db::schema::{ModelType, PropertyType};
use crate::db::Record;

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
        let mut object = Map::with_capacity(self.fields.len() + 5);
        object.insert("id".into(), Value::String(record.id.to_string()));
        object.insert("createdAt".into(), Value::String(time_text(record.created_at)));
        object.insert("updatedAt".into(), Value::String(time_text(record.updated_at)));
        object.insert("livemode".into(), Value::Bool(record.livemode));
        object.insert("merchant".into(), Value::String(record.merchant.to_string()));
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

    pub(super) fn page_value(&self, page: &RecordPage, query: &RecordQuery) -> Value {
        let order = &query.order;
        let nodes: Vec<Value> = page.records.iter().map(|r| self.record_value(r)).collect();
        let edges: Vec<Value> = page
            .records
            .iter()
            .zip(&nodes)
            .map(|(record, node)| json!({"node": node, "cursor": cursor_of(record, order)}))
            .collect();
        // platformOS's numbered-page view of the same page.
        let per_page = query.first.or(query.last).unwrap_or(DEFAULT_PAGE_SIZE);
        let current_page = match query.offset {
            Some(offset) => Some(offset / per_page.max(1) + 1),
            None if query.after.is_none() && query.before.is_none() => Some(1),
            None => None,
        };
        let mut value = json!({
            "edges": edges,
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": page.has_next_page,
                "hasPreviousPage": page.has_previous_page,
                "startCursor": page.start_cursor,
                "endCursor": page.end_cursor,
            },
            "totalCount": page.total_count,
        });
        if let Value::Object(map) = &mut value {
            map.extend(super::paging::summary(page, per_page, current_page));
        }
        value
    }

    pub(super) fn store_error(&self, error: crate::db::StoreError) -> Error {
        from_store(error, &|property| self.graphql_name_of(property))
    }

    /// Input object -> store properties (snake_case names).
    pub(super) fn properties_from_input(&self, input: &ObjectAccessor<'_>) -> Result<Map<String, Value>, Error> {
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
