#pragma once
// Sun and sky: solar position, clear-sky irradiance, the diffuse/direct split and plane-of-array
// irradiance. Angles in degrees unless a name says _rad; irradiance in W/m2.
//  - solar position: NOAA Solar Calculator equations (after Meeus, "Astronomical Algorithms",
//    1991), accurate to ~0.01 deg for 1800-2100; atmospheric refraction is ignored (it matters
//    below ~5 deg elevation, where there is little energy);
//  - clear sky: Ineichen & Perez (2002), "A new airmass independent formulation for the Linke
//    turbidity coefficient", Solar Energy 73(3):151-157, with the Kasten & Young (1989) air mass;
//  - diffuse fraction: Erbs, Klein & Duffie (1982), Solar Energy 28(4):293-302;
//  - plane of array: isotropic sky (Liu & Jordan 1963) plus ground reflection.
#include <cstdint>

#include "model/time.hpp"

namespace vpp::sim {

struct SunPosition {
  double zenith_deg = 90;
  double azimuth_deg = 0;       // clockwise from north: 90 east, 180 south
  double cos_zenith = 0;
  double declination_deg = 0;
  double equation_of_time_min = 0;
};

SunPosition sun_position(TimePoint t, double latitude_deg, double longitude_deg);

// Extraterrestrial normal irradiance for day of year 1..366 (Spencer 1971 Fourier series, as in
// Duffie & Beckman, "Solar Engineering of Thermal Processes", eq. 1.4.1b).
double extraterrestrial_normal_w_m2(int day_of_year);
int day_of_year(TimePoint t);

// Relative optical air mass (Kasten & Young 1989); +inf with the sun at or below the horizon.
double air_mass_kasten_young(double zenith_deg);

struct Irradiance {
  double ghi = 0;  // global horizontal
  double dni = 0;  // direct normal
  double dhi = 0;  // diffuse horizontal
};

// Ineichen-Perez clear-sky GHI and DNI (DHI = GHI - DNI cos z), without the optional Perez
// enhancement factor (as pvlib's default, which the authors of pvlib found spurious at high air
// mass). `linke_turbidity` at air mass 2: ~2 very clean, 3-4 rural summer, 4-6 hazy/urban.
Irradiance clear_sky_ineichen(double zenith_deg, double altitude_m, double linke_turbidity, double i0_w_m2);

// Splits GHI into DNI and DHI with the Erbs correlation on the clearness index kt = GHI / (I0 cos z).
Irradiance erbs_split(double ghi_w_m2, double cos_zenith, double i0_w_m2);

// A fixed plane (tilt from horizontal, azimuth clockwise from north) as coefficients that turn
// the per-step sun/sky terms into POA irradiance with a handful of multiply-adds:
//   cos(AOI) = cz * cos(tilt) + sz*cos(az_sun) * sin(tilt)*cos(az) + sz*sin(az_sun) * sin(tilt)*sin(az)
struct PlaneCoefficients {
  double k_vertical = 1;   // cos(tilt)
  double k_north = 0;      // sin(tilt) cos(azimuth)
  double k_east = 0;       // sin(tilt) sin(azimuth)
  double sky = 1;          // isotropic sky view factor (1 + cos tilt) / 2
  double ground = 0;       // albedo * (1 - cos tilt) / 2
};
PlaneCoefficients plane_coefficients(double tilt_deg, double azimuth_deg, double albedo);

// Per-step sky terms shared by every plane at one location.
struct SkyTerms {
  double ghi = 0;
  double dhi = 0;
  double beam_vertical = 0;  // DNI * cos z
  double beam_north = 0;     // DNI * sin z * cos(az_sun)
  double beam_east = 0;      // DNI * sin z * sin(az_sun)
};
SkyTerms sky_terms(const SunPosition& sun, const Irradiance& irr);

inline double poa_w_m2(const PlaneCoefficients& p, const SkyTerms& s) {
  double beam = p.k_vertical * s.beam_vertical + p.k_north * s.beam_north + p.k_east * s.beam_east;
  if (beam < 0) beam = 0;  // sun behind the plane
  return beam + p.sky * s.dhi + p.ground * s.ghi;
}

}  // namespace vpp::sim
