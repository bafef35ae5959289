# The fetcher against the fixture web server (tests/fixture_web).
# Included from tests/integration/CMakeLists.txt; needs the fixture_web target
# (add_subdirectory(fixture_web) in tests/CMakeLists.txt).
add_executable(fetch_test ${CMAKE_CURRENT_LIST_DIR}/fetch_test.c)
target_link_libraries(fetch_test PRIVATE ambient_core PkgConfig::CMOCKA)
add_test(NAME integration.fetch COMMAND fetch_test $<TARGET_FILE:fixture_web>)
set_tests_properties(integration.fetch PROPERTIES LABELS integration TIMEOUT 300)
