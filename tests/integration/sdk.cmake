# sdk.cmake - interoperability tests with the official MCP tools from npm
# (tools/npm, installed by `make deps`): the TypeScript SDK client and the
# Inspector CLI against `ambient mcp` and `ambient serve`.  Both exit 77
# (skipped) when the npm tools are missing.  Included from
# tests/integration/CMakeLists.txt.
add_test(NAME integration.sdk_client
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sdk_test.sh $<TARGET_FILE:ambient>)
set_tests_properties(integration.sdk_client PROPERTIES
  LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300)

add_test(NAME integration.inspector
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/inspector_test.sh $<TARGET_FILE:ambient>)
set_tests_properties(integration.inspector PROPERTIES
  LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300)
