// /metrics text: escaping, number formatting, one HELP/TYPE per family, the delivery of active
// events.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "apps/daemon/metrics.hpp"
#include "tests/daemon/fixtures.hpp"

namespace vpp::daemon::test {
namespace {

TEST(Metrics, EscapingAndNumbers) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(format_value(0.5), "0.5");
  EXPECT_EQ(format_value(1.0 / 3), "0.333333333");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(Metrics, TextFormatWithAnActiveEvent) {
  FakeShell shell;
  shell.served = {"s1/battery"};
  auto s = settings();
  CoreDriver d(s, "c-", nullptr, shell);
  store::Restored none;
  TimePoint t = at("2026-07-08T09:00:00Z");
  d.restore({site()}, none, {}, t);
  // Readings for ten minutes at 400 kW (the baseline falls back to the load before the event).
  int k = 0;
  for (; t < at("2026-07-08T09:10:00Z"); t += 1s, ++k) {
    d.on_adapter_input(meter(t, 400 + (k % 2 ? 0.2 : -0.2)), t);
    d.on_adapter_input(battery(t, 0, 60), t);
  }
  CurtailmentEvent e;
  e.event_id = "ev \"1\"";
  e.start = at("2026-07-08T09:10:00Z");
  e.duration = 10min;
  e.target_reduction_kw = 50;
  d.signal(GridSignal{t, "test", e}, t);
  for (; t < at("2026-07-08T09:11:30Z"); t += 1s, ++k) {
    d.on_adapter_input(meter(t, 350 + (k % 2 ? 0.2 : -0.2)), t);
    d.on_adapter_input(battery(t, 0, 60), t);
    d.feed(controller::Tick{}, t);
  }
  d.on_adapter_input(adapters::DeviceStatus{"s1", "battery", false, t, "3 polls timed out"}, t);

  adapters::AdapterCounters mqtt("mqtt");
  mqtt.count_in();
  mqtt.reject(adapters::reason::malformed, "vpp/s1/meter/telemetry", "not JSON");
  http::ApiCounters api;
  api.by_status = {{200, 5}, {201, 1}, {400, 2}, {404, 1}, {503, 1}};
  MetricsSources m;
  m.driver = &d;
  m.mqtt = &mqtt;
  m.mqtt_connected = true;
  m.api = &api;
  m.now = t;
  const std::string text = metrics_text(m);

  // Every line is a comment or `name{labels} value`; each family is declared once, before use.
  const std::regex sample(R"(^([a-z_]+)(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$)");
  std::set<std::string> declared;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(declared.insert(name).second) << "declared twice: " << name;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    std::smatch mm;
    ASSERT_TRUE(std::regex_match(line, mm, sample)) << line;
    std::string family = mm[1];
    for (const char* suffix : {"_sum", "_count"}) {
      if (!declared.count(family) && family.ends_with(suffix)) family = family.substr(0, family.size() - std::string(suffix).size());
    }
    EXPECT_TRUE(declared.count(family)) << "undeclared: " << line;
    ++samples;
  }
  EXPECT_GT(samples, 30);
  EXPECT_NE(text.find("vpp_messages_rejected_total{adapter=\"mqtt\",reason=\"malformed_payload\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vpp_events{state=\"active\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vpp_device_status_total{online=\"false\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vpp_api_responses_by_class_total{class=\"4xx\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("vpp_api_responses_by_class_total{class=\"5xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vpp_devices_online 2\n"), std::string::npos) << text;
  // The first interval (09:10-09:11) is settled: 400 kW baseline, ~350 kW metered, 50 kW asked.
  const auto at_ratio = text.find("vpp_event_delivery_ratio{event=\"ev \\\"1\\\"\"} ");
  ASSERT_NE(at_ratio, std::string::npos) << text;
  const double ratio = std::stod(text.substr(text.find("} ", at_ratio) + 2));
  EXPECT_NEAR(ratio, 1.0, 0.02);
}

}  // namespace
}  // namespace vpp::daemon::test
