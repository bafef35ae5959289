# `ambient mcp` starts one detached `ambient serve` (the task engine) on first
# use and --no-engine starts none.  Included from
# tests/integration/CMakeLists.txt.
add_test(NAME integration.mcp_autostart
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/mcp_autostart_test.sh $<TARGET_FILE:ambient>)
set_tests_properties(integration.mcp_autostart PROPERTIES LABELS integration TIMEOUT 300)
