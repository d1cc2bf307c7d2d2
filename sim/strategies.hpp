#pragma once
// The built-in strategies.
//  uncontrolled: sends nothing; every asset runs on its own default (thermostats at their
//                default setpoints, batteries in self-consumption, PV unlimited).
//  rule:         a transparent rule set for demand response:
//                - HVAC: pre-cool before an event (setpoint lowered by up to 2 K, never below
//                  the comfort band), raise the setpoint to just inside the comfort band
//                  during it, and release the raise over an hour afterwards;
//                - batteries: charge when the import price is at the day's minimum, hold the
//                  charge while an event is pending, discharge during an event (spreading the
//                  energy above the reserve over the time left) and, on a day without events,
//                  at the day's highest price;
//                - flexible loads: curtail to their limit during an event.
#include <memory>

#include "sim/strategy.hpp"

namespace vpp::sim {

std::unique_ptr<Strategy> make_uncontrolled_strategy();
std::unique_ptr<Strategy> make_rule_strategy();

}  // namespace vpp::sim
