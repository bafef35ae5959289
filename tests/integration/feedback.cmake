# The Event Feedback Server (`ambient feedback`) end to end: signed and
# unsigned deliveries with curl and openssl, queries, SSE, metrics, restart.
# Needs curl, jq and openssl.  Included from tests/integration/CMakeLists.txt.
add_test(NAME integration.feedback
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/feedback_test.sh $<TARGET_FILE:ambient>)
set_tests_properties(integration.feedback PROPERTIES LABELS integration TIMEOUT 180)

# The path of an event with real processes: engine -> signed delivery ->
# feedback server -> decision -> SMS (Twilio API) and e-mail (SMTP) to the
# local stand-ins of fixture_sinks; receiver down and back, tampered
# signature, no credentials.
add_test(NAME integration.notify
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/notify_test.sh $<TARGET_FILE:ambient>
    $<TARGET_FILE:fixture_sinks>)
set_tests_properties(integration.notify PROPERTIES LABELS integration TIMEOUT 240)
