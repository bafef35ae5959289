# The outside-world MCP tools (get_weather, send_sms, send_email,
# scrape_webpage) in process, against the fixture web server's Open-Meteo
# stand-in and pages (tests/fixture_web) and the Twilio and SMTP sinks
# (tests/fixture_sinks).  Included from tests/integration/CMakeLists.txt;
# needs the fixture_web and fixture_sinks_lib targets.
add_executable(net_tools_test ${CMAKE_CURRENT_LIST_DIR}/net_tools_test.c)
target_link_libraries(net_tools_test PRIVATE ambient_core fixture_sinks_lib PkgConfig::CMOCKA)
add_test(NAME integration.net_tools COMMAND net_tools_test $<TARGET_FILE:fixture_web>)
set_tests_properties(integration.net_tools PROPERTIES LABELS integration TIMEOUT 300)
