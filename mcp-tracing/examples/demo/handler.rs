//! A small weather MCP server: two tools (one of which can fail), a resource and a prompt.
//! Shared by the demo example, the tests and the bench.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, JsonObject, ListPromptsResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use serde_json::json;

pub const FORECAST_URI: &str = "weather://forecast/today";

#[derive(Debug, Clone, Default)]
pub struct Weather;

fn schema(value: serde_json::Value) -> Arc<JsonObject> {
    match value {
        serde_json::Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

fn city(arguments: &Option<JsonObject>) -> Option<&str> {
    arguments.as_ref()?.get("city")?.as_str()
}

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("weather", "1.0.0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let city = json!({"type": "object", "required": ["city"],
            "properties": {"city": {"type": "string"}}});
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new(
                "get_weather",
                "Current weather in a city.",
                schema(city.clone()),
            ),
            Tool::new(
                "get_alerts",
                "Weather alerts for a city; fails for cities it does not know.",
                schema(city),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let city = city(&request.arguments);
        match (request.name.as_ref(), city) {
            ("get_weather", Some(city)) => Ok(CallToolResult::success(vec![ContentBlock::text(
                format!("{city}: 18°C, light rain"),
            )])
            .into()),
            ("get_alerts", Some("Paris")) => {
                Ok(CallToolResult::success(vec![ContentBlock::text("no alerts")]).into())
            }
            ("get_alerts", Some(city)) => Ok(CallToolResult::error(vec![ContentBlock::text(
                format!("no alert feed for {city}"),
            )])
            .into()),
            ("get_weather" | "get_alerts", None) => Err(McpError::invalid_params(
                "argument `city` (string) is required",
                None,
            )),
            (other, _) => Err(McpError::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            FORECAST_URI,
            "today",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri != FORECAST_URI {
            return Err(McpError::resource_not_found(
                format!("no resource {}", request.uri),
                None,
            ));
        }
        Ok(
            ReadResourceResult::new(vec![ResourceContents::text("sunny later", FORECAST_URI)])
                .into(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "packing_list",
            Some("What to pack for the forecast."),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != "packing_list" {
            return Err(McpError::invalid_params(
                format!("unknown prompt {}", request.name),
                None,
            ));
        }
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            "Pack an umbrella.",
        )])
        .into())
    }
}
