#pragma once
// Random numbers for the simulator. Two kinds, both fully determined by the scenario seed:
//  - counter-based noise: a hash of (seed, stream, index). The base-load noise of site s at step k
//    depends on nothing else, so any partition of the fleet over threads, and a baseline run
//    beside a controlled run, see the very same numbers;
//  - sequential streams (xoshiro256**) for processes that are generated once, in order (clouds,
//    fleet generation, message loss).
#include <cmath>
#include <cstdint>

namespace vpp::sim {

// SplitMix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
// generators", OOPSLA): a bijective 64-bit mixer with good avalanche.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr std::uint64_t hash3(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  return splitmix64(seed ^ splitmix64(a ^ splitmix64(b)));
}

// Uniform in [0, 1) from the top 53 bits.
constexpr double to_unit(std::uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

// Approximately standard normal from one 64-bit word: the sum of four 16-bit uniforms
// (Irwin-Hall, n = 4), centred and scaled to unit variance. Tails end at +-3.46 sigma, which is
// enough for load noise and several times cheaper than Box-Muller.
constexpr double approx_normal(std::uint64_t x) {
  const double s = static_cast<double>(x & 0xFFFF) + static_cast<double>((x >> 16) & 0xFFFF) +
                   static_cast<double>((x >> 32) & 0xFFFF) + static_cast<double>(x >> 48);
  // Each part is uniform on {0..65535}: mean 32767.5, variance (65536^2 - 1) / 12.
  constexpr double kMean = 4 * 32767.5;
  constexpr double kInvStd = 1.0 / 37837.227237206;  // 1 / sqrt(4 * (65536^2 - 1) / 12)
  return (s - kMean) * kInvStd;
}

// xoshiro256** 1.0 (Blackman & Vigna 2018), seeded through SplitMix64 as its authors advise.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& w : s_) {
      x += 0x9E3779B97F4A7C15ull;
      w = splitmix64(x);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  double uniform() { return to_unit(next()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller (one of the pair; the streams are cheap).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  bool bernoulli(double p) { return uniform() < p; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace vpp::sim
