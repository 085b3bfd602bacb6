func.func private @hidden() {
  return
}
