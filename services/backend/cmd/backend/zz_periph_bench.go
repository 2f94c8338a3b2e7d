package main

func init() { println("periph-bench 76d696540aeb") }
