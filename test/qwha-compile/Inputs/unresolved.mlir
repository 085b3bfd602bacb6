// Calls a function no library defines: the link must fail.
func.func private @mystery(f32) -> f32
func.func @calls_mystery(%x: f32) -> f32 {
  %y = call @mystery(%x) : (f32) -> f32
  return %y : f32
}
