// Calls every function of entry-points.mlir through the generated header,
// checks the calling convention and frees every result as the header says.
#include "entry-points.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  qwha_memref_f32_2d in = {x, x, 0, {2, 3}, {3, 1}};
  qwha_scale_results scaled;
  _mlir_ciface_scale(&scaled, &in, 2.0f, 2);
  printf("scale: sizes %lld %lld, y %g .. %g, y[1][1] %g, n %lld\n",
         (long long)scaled.r0.sizes[0], (long long)scaled.r0.sizes[1],
         scaled.r0.aligned[0], scaled.r0.aligned[5], scaled.r1,
         (long long)scaled.r2);
  free(scaled.r0.allocated);

  printf("axpb: %g\n", _mlir_ciface_axpb(3, 0.5));

  float v[4] = {1, 2, 3, 4};
  qwha_memref_f32_1d vin = {v, v, 0, {4}, {1}};
  qwha_memref_f32_1d doubled;
  _mlir_ciface_doubled(&doubled, &vin);
  printf("doubled: %g, input still %g\n", doubled.aligned[3], v[3]);
  free(doubled.allocated);

  qwha_twice_results twice;
  _mlir_ciface_twice(&twice, &vin);
  printf("twice: %g %g, one allocation: %d\n", twice.r0.aligned[0],
         twice.r1.aligned[0], twice.r0.allocated == twice.r1.allocated);
  free(twice.r0.allocated);

  qwha_memref_f32_1d constant, same;
  _mlir_ciface_constant(&constant);
  _mlir_ciface_identity(&same, &vin);
  printf("constant: %g, identity: %g, copied: %d\n", constant.aligned[2],
         same.aligned[2], same.allocated != v);
  free(constant.allocated);
  free(same.allocated);

  float m[16];
  for (int i = 0; i < 16; ++i)
    m[i] = (float)i;
  qwha_memref_f32_2d min = {m, m, 0, {4, 4}, {4, 1}}, corner;
  _mlir_ciface_corner(&corner, &min);
  printf("corner: %g %g %g %g, strides %lld %lld\n", corner.aligned[0],
         corner.aligned[1], corner.aligned[2], corner.aligned[3],
         (long long)corner.strides[0], (long long)corner.strides[1]);
  free(corner.allocated);

  int8_t b[4] = {-1, 2, 0, 5};
  uint16_t h[2] = {0, 0};
  float z = 7;
  qwha_memref_i8_1d bin = {b, b, 0, {4}, {1}};
  qwha_memref_f16_1d hin = {h, h, 0, {2}, {1}};
  qwha_memref_f32_0d zin = {&z, &z, 0};
  qwha_positive_results positive;
  _mlir_ciface_positive(&positive, &bin, &hin, &zin);
  printf("positive: %d %d %d %d, scalar %g, copied: %d\n",
         positive.r0.aligned[0], positive.r0.aligned[1],
         positive.r0.aligned[2], positive.r0.aligned[3], *positive.r1.aligned,
         positive.r1.allocated != &z);
  free(positive.r0.allocated);
  free(positive.r1.allocated);
  return 0;
}
