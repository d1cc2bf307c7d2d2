# vpp-bench mqtt-ingest: the MQTT adapter against a bare Paho subscriber through a local mosquitto.
find_package(PahoMqttCpp REQUIRED)
target_link_libraries(vpp-bench PRIVATE vpp::adapters PahoMqttCpp::paho-mqttpp3)
