/* Calls the two wide layers of make_qlinear_cases.py (160 outputs, 64
   inputs: case 26 on one row, case 27 act-order on nine) and prints every
   output with all its digits, so that two builds can be compared exactly. */

#include "cases.h"

#include <stdio.h>
#include <stdlib.h>

static void run(const char *name,
                void (*layer)(qwha_memref_f32_2d *, qwha_memref_f32_2d *),
                int64_t rows) {
  float x[9 * 64];
  for (int i = 0; i < 9 * 64; ++i)
    x[i] = (float)((i * 37) % 101 - 50) / 25.0f;
  qwha_memref_f32_2d input = {x, x, 0, {rows, 64}, {64, 1}};
  qwha_memref_f32_2d output;
  layer(&output, &input);
  printf("%s [%lld, %lld]\n", name, (long long)output.sizes[0],
         (long long)output.sizes[1]);
  for (int64_t i = 0; i < output.sizes[0] * output.sizes[1]; ++i)
    printf("%.9g\n", output.aligned[output.offset + i]);
  free(output.allocated);
}

int main(void) {
  run("case26", _mlir_ciface_case26, 1);
  run("case27", _mlir_ciface_case27, 9);
  return 0;
}
