package main

func init() { println("periph-bench b9b17332f5df") }
