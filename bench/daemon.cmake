# vpp-bench daemon: a real vppd process under API and telemetry load (needs vppd and mosquitto).
# PahoMqttCpp::paho-mqttpp3 is found by mqtt.cmake (included after this file; targets resolve
# when the build is generated).
target_link_libraries(vpp-bench PRIVATE vpp::http vpp::store PahoMqttCpp::paho-mqttpp3)
add_dependencies(vpp-bench vppd)
