# The Event Feedback Server (`ambient feedback`) end to end: signed and
# unsigned deliveries with curl and openssl, queries, SSE, metrics, restart.
# Needs curl, jq and openssl.  Included from tests/integration/CMakeLists.txt.
add_test(NAME integration.feedback
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/feedback_test.sh $<TARGET_FILE:ambient>)
set_tests_properties(integration.feedback PROPERTIES LABELS integration TIMEOUT 180)
