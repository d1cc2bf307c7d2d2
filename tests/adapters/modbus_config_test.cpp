// The Modbus device's frame_gap key (added to config/ for the adapter's bus serialisation).
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace vpp::config {
namespace {

std::string yaml(const std::string& gap) {
  return "modbus:\n"
         "  devices:\n"
         "    - id: inv\n"
         "      site: s1\n"
         "      asset: pv\n"
         "      transport: rtu\n"
         "      serial_port: /dev/ttyUSB0\n"
         "      unit_id: 3\n" +
         (gap.empty() ? std::string() : "      frame_gap: " + gap + "\n") +
         "sites:\n"
         "  - id: s1\n"
         "    name: Site one\n"
         "    type: office\n"
         "    assets:\n"
         "      - id: pv\n"
         "        kind: pv\n"
         "        rated_kw: 10\n";
}

TEST(ModbusConfig, FrameGapParsesAndDefaultsToZero) {
  auto c = load_config_text(yaml("20ms"), "fleet.yaml");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->modbus_devices.size(), 1u);
  EXPECT_EQ(c->modbus_devices[0].frame_gap, std::chrono::milliseconds(20));
  EXPECT_EQ(c->modbus_devices[0].transport, ModbusTransport::rtu);
  c = load_config_text(yaml(""), "fleet.yaml");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->modbus_devices[0].frame_gap, std::chrono::milliseconds(0));
}

TEST(ModbusConfig, BadFrameGapNamesFileLineAndField) {
  auto c = load_config_text(yaml("soon"), "fleet.yaml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("fleet.yaml:9:"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("modbus.devices[0].frame_gap"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace vpp::config
