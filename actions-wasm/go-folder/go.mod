module go-folder

go 1.21
