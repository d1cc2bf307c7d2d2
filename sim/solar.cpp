#include "sim/solar.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace vpp::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

double wrap360(double x) {
  x = std::fmod(x, 360.0);
  return x < 0 ? x + 360.0 : x;
}

}  // namespace

int day_of_year(TimePoint t) {
  using namespace std::chrono;
  const auto d = floor<days>(t);
  const year_month_day ymd{d};
  return static_cast<int>((d - sys_days{ymd.year() / January / 1}).count()) + 1;
}

SunPosition sun_position(TimePoint t, double latitude_deg, double longitude_deg) {
  // NOAA Solar Calculator (https://gml.noaa.gov/grad/solcalc/calcdetails.html), time zone 0.
  const double unix_days = static_cast<double>(to_unix_ms(t)) / 86'400'000.0;
  const double jd = unix_days + 2440587.5;
  const double jc = (jd - 2451545.0) / 36525.0;
  const double l0 = wrap360(280.46646 + jc * (36000.76983 + jc * 0.0003032));
  const double m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc);
  const double e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc);
  const double mr = m * kDeg;
  const double c = std::sin(mr) * (1.914602 - jc * (0.004817 + 0.000014 * jc)) +
                   std::sin(2 * mr) * (0.019993 - 0.000101 * jc) + std::sin(3 * mr) * 0.000289;
  const double true_long = l0 + c;
  const double omega = (125.04 - 1934.136 * jc) * kDeg;
  const double app_long = true_long - 0.00569 - 0.00478 * std::sin(omega);
  const double mean_obliq =
      23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0;
  const double obliq = (mean_obliq + 0.00256 * std::cos(omega)) * kDeg;
  const double decl = std::asin(std::sin(obliq) * std::sin(app_long * kDeg));
  const double y = std::tan(obliq / 2) * std::tan(obliq / 2);
  const double l0r = l0 * kDeg;
  const double eot_min = 4.0 / kDeg *
                         (y * std::sin(2 * l0r) - 2 * e * std::sin(mr) + 4 * e * y * std::sin(mr) * std::cos(2 * l0r) -
                          0.5 * y * y * std::sin(4 * l0r) - 1.25 * e * e * std::sin(2 * mr));
  const double minutes_utc = (unix_days - std::floor(unix_days)) * 1440.0;
  const double true_solar_min = std::fmod(minutes_utc + eot_min + 4.0 * longitude_deg + 1440.0 * 2, 1440.0);
  double hour_angle = true_solar_min / 4.0 - 180.0;
  const double lat = latitude_deg * kDeg;
  const double ha = hour_angle * kDeg;
  double cos_z = std::sin(lat) * std::sin(decl) + std::cos(lat) * std::cos(decl) * std::cos(ha);
  cos_z = std::clamp(cos_z, -1.0, 1.0);
  const double zenith = std::acos(cos_z);
  const double sin_z = std::sin(zenith);
  double azimuth = 0;
  if (sin_z > 1e-9 && std::abs(std::cos(lat)) > 1e-9) {
    const double cos_az = std::clamp((std::sin(lat) * cos_z - std::sin(decl)) / (std::cos(lat) * sin_z), -1.0, 1.0);
    const double a = std::acos(cos_az) / kDeg;
    azimuth = hour_angle > 0 ? wrap360(a + 180.0) : wrap360(540.0 - a);
  }
  SunPosition p;
  p.zenith_deg = zenith / kDeg;
  p.azimuth_deg = azimuth;
  p.cos_zenith = cos_z;
  p.declination_deg = decl / kDeg;
  p.equation_of_time_min = eot_min;
  return p;
}

double extraterrestrial_normal_w_m2(int day_of_year) {
  const double b = 2 * kPi * (day_of_year - 1) / 365.0;
  return 1367.0 * (1.000110 + 0.034221 * std::cos(b) + 0.001280 * std::sin(b) + 0.000719 * std::cos(2 * b) +
                   0.000077 * std::sin(2 * b));
}

double air_mass_kasten_young(double zenith_deg) {
  if (zenith_deg >= 90.0) return std::numeric_limits<double>::infinity();
  return 1.0 / (std::cos(zenith_deg * kDeg) + 0.50572 * std::pow(96.07995 - zenith_deg, -1.6364));
}

Irradiance clear_sky_ineichen(double zenith_deg, double altitude_m, double tl, double i0) {
  Irradiance out;
  if (zenith_deg >= 90.0) return out;
  const double cos_z = std::cos(zenith_deg * kDeg);
  // Absolute air mass: relative air mass times station pressure over sea-level pressure, from
  // the isothermal barometric formula with an 8.4 km scale height (within 0.5 % of the standard
  // atmosphere below 2 km).
  const double am = air_mass_kasten_young(zenith_deg) * std::exp(-altitude_m / 8434.5);
  const double fh1 = std::exp(-altitude_m / 8000.0);
  const double fh2 = std::exp(-altitude_m / 1250.0);
  const double cg1 = 5.09e-5 * altitude_m + 0.868;
  const double cg2 = 3.92e-5 * altitude_m + 0.0387;
  out.ghi = std::max(0.0, cg1 * i0 * cos_z * std::exp(-cg2 * am * (fh1 + fh2 * (tl - 1.0))));
  const double b = 0.664 + 0.163 / fh1;
  const double dni_b = b * i0 * std::exp(-0.09 * am * (tl - 1.0));
  // Ineichen & Perez eq. 9: the beam may not exceed what the global model allows.
  const double dni_g = (1.0 - (0.1 - 0.2 * std::exp(-tl)) / (0.1 + 0.882 / fh1)) / cos_z * out.ghi;
  out.dni = std::max(0.0, std::min(dni_b, dni_g));
  out.dhi = std::max(0.0, out.ghi - out.dni * cos_z);
  return out;
}

Irradiance erbs_split(double ghi, double cos_z, double i0) {
  Irradiance out;
  out.ghi = std::max(0.0, ghi);
  // Below ~1.7 deg elevation the beam term is numerically meaningless: all diffuse.
  if (cos_z <= 0.03 || out.ghi <= 0) {
    out.dhi = out.ghi;
    return out;
  }
  const double kt = std::clamp(out.ghi / (i0 * cos_z), 0.0, 1.0);
  double df;
  if (kt <= 0.22) {
    df = 1.0 - 0.09 * kt;
  } else if (kt <= 0.80) {
    df = 0.9511 - 0.1604 * kt + 4.388 * kt * kt - 16.638 * kt * kt * kt + 12.336 * kt * kt * kt * kt;
  } else {
    df = 0.165;
  }
  out.dhi = df * out.ghi;
  out.dni = (out.ghi - out.dhi) / cos_z;
  return out;
}

PlaneCoefficients plane_coefficients(double tilt_deg, double azimuth_deg, double albedo) {
  const double tilt = tilt_deg * kDeg;
  const double az = azimuth_deg * kDeg;
  PlaneCoefficients p;
  p.k_vertical = std::cos(tilt);
  p.k_north = std::sin(tilt) * std::cos(az);
  p.k_east = std::sin(tilt) * std::sin(az);
  p.sky = (1.0 + std::cos(tilt)) / 2.0;
  p.ground = albedo * (1.0 - std::cos(tilt)) / 2.0;
  return p;
}

SkyTerms sky_terms(const SunPosition& sun, const Irradiance& irr) {
  SkyTerms s;
  s.ghi = irr.ghi;
  s.dhi = irr.dhi;
  if (sun.cos_zenith <= 0) return s;
  const double sin_z = std::sqrt(std::max(0.0, 1.0 - sun.cos_zenith * sun.cos_zenith));
  const double az = sun.azimuth_deg * kDeg;
  s.beam_vertical = irr.dni * sun.cos_zenith;
  s.beam_north = irr.dni * sin_z * std::cos(az);
  s.beam_east = irr.dni * sin_z * std::sin(az);
  return s;
}

}  // namespace vpp::sim
