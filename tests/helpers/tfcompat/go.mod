module tfcompat

go 1.19
