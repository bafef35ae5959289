# The task engine in `ambient serve` end to end against the fixture web server
# (tests/fixture_web); needs curl and jq.  Included from
# tests/integration/CMakeLists.txt; needs the fixture_web target
# (add_subdirectory(fixture_web) in tests/CMakeLists.txt).
add_test(NAME integration.engine
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/engine_test.sh $<TARGET_FILE:ambient>
          $<TARGET_FILE:fixture_web>)
set_tests_properties(integration.engine PROPERTIES LABELS integration TIMEOUT 180)
