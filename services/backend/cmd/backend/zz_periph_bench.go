package main

func init() { println("periph-bench 096fa3e25234") }
