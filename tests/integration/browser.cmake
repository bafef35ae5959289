# browser.cmake - the dashboards in headless Chromium (tests/browser): Debian's
# chromium driven by playwright-core from tools/npm (`make deps` installs
# both; a missing one fails the test, it is not skipped).  Each test starts
# its own servers on 127.0.0.1:0 in a temp dir.  SCREENSHOT_DIR=docs/screenshots
# in the environment refreshes the documentation's screenshots.
# Included from tests/integration/CMakeLists.txt.
add_test(NAME integration.browser_tasks
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/browser/run.sh $<TARGET_FILE:ambient> tasks.test.mjs)
set_tests_properties(integration.browser_tasks PROPERTIES LABELS "integration;browser" TIMEOUT 180)

add_test(NAME integration.browser_feedback
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/browser/run.sh $<TARGET_FILE:ambient> feedback.test.mjs)
set_tests_properties(integration.browser_feedback PROPERTIES LABELS "integration;browser" TIMEOUT 180)
