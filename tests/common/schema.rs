//! A small validator for the JSON Schema subset the OpenAPI files here use (the Zipkin v2
//! API in `tests/data/specs/`, mcpcol's `docs/openapi.yaml`): `$ref` (`#/definitions/…` and
//! `#/components/schemas/…`), `type`, `nullable`, `required`, `properties`,
//! `additionalProperties`, `items`, `enum`, `minLength`/`maxLength`, `[a-f0-9]{m,n}`
//! patterns and the ipv4/ipv6 formats. An object that lists `properties` and no schema
//! for others accepts no other property, so a renamed field is caught.

use serde_json::Value;

/// Every violation of `schema` by `value` (empty when valid).
pub fn validate(root: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(reference) = schema["$ref"].as_str() {
        let target = if let Some(name) = reference.strip_prefix("#/definitions/") {
            &root["definitions"][name]
        } else if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            &root["components"]["schemas"][name]
        } else {
            panic!("unsupported $ref {reference}");
        };
        assert!(!target.is_null(), "unresolved $ref {reference}");
        return validate(root, target, value, path);
    }
    if value.is_null() && schema["nullable"] == true {
        return errors;
    }
    let kind = schema["type"].as_str().unwrap_or("");
    let type_ok = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!("{path}: expected {kind}, got {value}"));
        return errors;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{path}: {value} not in {allowed:?}"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.len() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| len < min)
            || schema["maxLength"].as_u64().is_some_and(|max| len > max)
        {
            errors.push(format!("{path}: length {len} out of range"));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            let counts = pattern
                .strip_prefix("[a-f0-9]{")
                .and_then(|p| p.strip_suffix('}'))
                .expect("known pattern form");
            let (min, max) = match counts.split_once(',') {
                Some((a, b)) => (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()),
                None => (counts.parse().unwrap(), counts.parse().unwrap()),
            };
            let hex = s
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !hex || s.len() < min || s.len() > max {
                errors.push(format!("{path}: {s:?} does not match {pattern}"));
            }
        }
        match schema["format"].as_str() {
            Some("ipv4") if s.parse::<std::net::Ipv4Addr>().is_err() => {
                errors.push(format!("{path}: not ipv4"))
            }
            Some("ipv6") if s.parse::<std::net::Ipv6Addr>().is_err() => {
                errors.push(format!("{path}: not ipv6"))
            }
            _ => {}
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(required.as_str().unwrap()) {
                errors.push(format!("{path}: missing required {required}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, field) in object {
            let at = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(field_schema) => errors.extend(validate(root, field_schema, field, &at)),
                None if schema["additionalProperties"].is_object() => {
                    errors.extend(validate(root, &schema["additionalProperties"], field, &at))
                }
                None if properties.is_some() || schema["additionalProperties"] == false => {
                    errors.push(format!("{at}: not a property of the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            errors.extend(validate(root, items, item, &format!("{path}[{i}]")));
        }
    }
    errors
}

/// The schema of a path's 200 (or other) JSON answer in an OpenAPI 3 document.
pub fn response_schema(root: &Value, path: &str, status: u16) -> Value {
    let schema = &root["paths"][path]["get"]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(!schema.is_null(), "no schema for GET {path} {status}");
    schema.clone()
}
