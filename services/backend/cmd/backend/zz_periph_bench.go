package main

func init() { println("periph-bench start") }
